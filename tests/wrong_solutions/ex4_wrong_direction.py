"""Exercise 4 with a common mistake: the steps go from t1 away from t0."""
import numpy as np

from adjoint_ref.adjoint import augmented_dynamics
from adjoint_ref.rk4 import rk4_step


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    n = z1.size
    h = (t1 - t0) / n_steps
    s = np.concatenate([z1.ravel(), dL_dz1.ravel(), np.zeros(theta.size), [0.0]])
    rates = augmented_dynamics(f, z1.shape)
    for k in range(n_steps):
        s = rk4_step(rates, s, theta, t1 + k * h, h)
    return s[n:2 * n].reshape(z1.shape), s[2 * n:-1].reshape(theta.shape)
