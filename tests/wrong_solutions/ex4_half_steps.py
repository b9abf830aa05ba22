"""Exercise 4 with a plausible mistake: half the required number of steps (n_steps // 2)."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import solve_interval


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    n = z1.size
    s1 = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [0.0]])
    s0 = solve_interval(augmented_dynamics(f, z1.shape), s1, theta, t1, t0, n_steps // 2)
    return s0[n:2 * n].reshape(z1.shape), s0[2 * n:-1].reshape(theta.shape)
