"""Exercise 5 with a common mistake: the sign of the comment under the derivation,
dL/dt0 = λ(t1)·f(z(t1)) + ∫_{t1}^{t0} λ ∂f/∂t dt, which is +λ(t0)·f(z0)."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import solve_interval


def dL_dt0(f, z1, theta, t0, t1, dL_dz1, n_steps):
    start = np.vdot(dL_dz1, f(z1, theta, t1))
    s1 = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [-start]])
    return -solve_interval(augmented_dynamics(f, z1.shape), s1, theta, t1, t0, n_steps)[-1]
