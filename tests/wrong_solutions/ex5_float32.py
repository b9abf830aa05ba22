"""Exercise 5 with a plausible mistake: every array in float32, the result returned as a Python float."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import solve_interval


def dL_dt0(f, z1, theta, t0, t1, dL_dz1, n_steps):
    g = augmented_dynamics(f, z1.shape)
    a_t1 = -np.vdot(dL_dz1, f(z1, theta, t1))
    s1 = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [a_t1]]).astype(np.float32)
    s0 = solve_interval(lambda s, th, t: g(s, th, t).astype(np.float32), s1, theta.astype(np.float32),
                        np.float32(t1), np.float32(t0), n_steps)
    return float(s0[-1])
