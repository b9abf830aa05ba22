"""Reference answer to exercise 4: the continuous adjoint from t1 back to t0 (eqs. 11–12)."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import solve_interval


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    """Integrate s = [z, λ, a_θ, a_t] from s(t1) = [z1, ∂L/∂z(t1), 0, 0] to t0; read λ(t0) and a_θ(t0).

    `adjoint_ref.adjoint.augmented_dynamics` is exercise 3 on the flattened state s.
    """
    n = z1.size
    s1 = np.concatenate([np.ravel(z1), np.ravel(dL_dz1), np.zeros(np.size(theta)), [0.0]])
    s0 = solve_interval(augmented_dynamics(f, np.shape(z1)), s1, theta, t1, t0, n_steps)
    return s0[n:2 * n].reshape(np.shape(z1)), s0[2 * n:-1].reshape(np.shape(theta))
