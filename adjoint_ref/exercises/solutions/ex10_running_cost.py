"""Reference answer to exercise 10: exercise 4's backward pass with a running cost's gradients, eq. (R2)."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import solve_interval


def running_cost_adjoint(f, g, z1, theta, t0, t1, dL_dz1, n_steps):
    """Integrate s = [z, λ, a_θ, a_t] from [z1, ∂ℓ/∂z(t1), 0, 0] at t1 to t0 with g's gradients added.

    `adjoint_ref.adjoint.augmented_dynamics(f, shape, g)` adds ∂g/∂z, ∂g/∂θ, ∂g/∂t to λ ∂f/∂z, λ ∂f/∂θ,
    λ ∂f/∂t before negating them (see `adjoint.with_running_cost`).
    """
    n = z1.size
    s1 = np.concatenate([np.ravel(z1), np.ravel(dL_dz1), np.zeros(np.size(theta)), [0.0]])
    s0 = solve_interval(augmented_dynamics(f, np.shape(z1), g), s1, theta, t1, t0, n_steps)
    return s0[n:2 * n].reshape(np.shape(z1)), s0[2 * n:-1].reshape(np.shape(theta))
