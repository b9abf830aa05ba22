"""Exercise 4 with a plausible mistake: the backward pass in float32 (to "save memory"), with the
result converted back to float64 at the end."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    n, g = z1.size, augmented_dynamics(f, z1.shape)
    s = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [0.0]]).astype(np.float32)
    h = np.float32((t0 - t1) / n_steps)
    for k in range(n_steps):
        t = t1 + k * h
        k1 = g(s, theta, t).astype(np.float32)
        k2 = g(s + h / 2 * k1, theta, t + h / 2).astype(np.float32)
        k3 = g(s + h / 2 * k2, theta, t + h / 2).astype(np.float32)
        k4 = g(s + h * k3, theta, t + h).astype(np.float32)
        s = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    s = s.astype(np.float64)
    return s[n:2 * n].reshape(z1.shape), s[2 * n:-1].reshape(theta.shape)
