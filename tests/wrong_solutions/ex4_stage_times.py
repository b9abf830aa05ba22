"""Exercise 4 with a plausible mistake: a hand-written RK4 step for the backward system whose middle
stages read f at the step's start time t instead of t + h/2 (the states are right)."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    n, g = z1.size, augmented_dynamics(f, z1.shape)
    s = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [0.0]])
    h = (t0 - t1) / n_steps
    for k in range(n_steps):
        t = t1 + k * h
        k1 = g(s, theta, t)
        k2 = g(s + h / 2 * k1, theta, t)
        k3 = g(s + h / 2 * k2, theta, t)
        k4 = g(s + h * k3, theta, t + h)
        s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s[n:2 * n].reshape(z1.shape), s[2 * n:-1].reshape(theta.shape)
