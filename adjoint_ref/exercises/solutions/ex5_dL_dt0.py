"""Reference answer to exercise 5: dL/dt0 as the final value of a_t."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import solve_interval


def dL_dt0(f, z1, theta, t0, t1, dL_dz1, n_steps):
    """Integrate s = [z, λ, a_θ, a_t] from a_t(t1) = −λ(t1)·f(z(t1), θ, t1) back to t0; return a_t(t0)."""
    a_t1 = -np.vdot(dL_dz1, f(z1, theta, t1))
    s1 = np.concatenate([np.ravel(z1), np.ravel(dL_dz1), np.zeros(np.size(theta)), [a_t1]])
    return solve_interval(augmented_dynamics(f, np.shape(z1)), s1, theta, t1, t0, n_steps)[-1]
