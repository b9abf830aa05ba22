"""Exercise 5 solved another right way: solve z and λ back to t0, then dL/dt0 = −λ(t0)·f(z(t0), θ, t0)."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import solve_interval


def dL_dt0(f, z1, theta, t0, t1, dL_dz1, n_steps):
    n = z1.size
    s1 = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [0.0]])
    s0 = solve_interval(augmented_dynamics(f, z1.shape), s1, theta, t1, t0, n_steps)
    return -np.vdot(s0[n:2 * n], f(s0[:n].reshape(z1.shape), theta, t0))
