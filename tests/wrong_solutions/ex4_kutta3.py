"""Exercise 4 with a plausible mistake: Kutta's third-order rule instead of classical RK4 for the
backward steps (k3 at t + h from z − h k1 + 2h k2, weights 1/6, 4/6, 1/6)."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    n, g = z1.size, augmented_dynamics(f, z1.shape)
    s = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [0.0]])
    h = (t0 - t1) / n_steps
    for k in range(n_steps):
        t = t1 + k * h
        k1 = g(s, theta, t)
        k2 = g(s + h / 2 * k1, theta, t + h / 2)
        k3 = g(s - h * k1 + 2 * h * k2, theta, t + h)
        s = s + h / 6 * (k1 + 4 * k2 + k3)
    return s[n:2 * n].reshape(z1.shape), s[2 * n:-1].reshape(theta.shape)
