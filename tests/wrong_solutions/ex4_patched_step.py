"""Exercise 4 with a plausible mistake: the learner's own (here third-order) step plugged into the
package by assignment, so that `solve_interval` uses it, and the grader's references would too."""
import numpy as np

from adjoint_ref import rk4
from adjoint_ref.adjoint import augmented_dynamics


def my_step(f, z, theta, t, h):
    k1 = f(z, theta, t)
    k2 = f(z + h / 2 * k1, theta, t + h / 2)
    k3 = f(z - h * k1 + 2 * h * k2, theta, t + h)
    return z + h / 6 * (k1 + 4 * k2 + k3)


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    rk4.rk4_step = my_step
    n = z1.size
    s1 = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [0.0]])
    s0 = rk4.solve_interval(augmented_dynamics(f, z1.shape), s1, theta, t1, t0, n_steps)
    return s0[n:2 * n].reshape(z1.shape), s0[2 * n:-1].reshape(theta.shape)
