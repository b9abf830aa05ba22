"""Exercise 1 with a plausible mistake: the increment z(t + h) − z(t) kept in float32 (to "save
memory"), added to the float64 state: the result is float64, but only good to float32's 7 digits."""
import numpy as np


def rk4_step(f, z, theta, t, h):
    k1 = f(z, theta, t)
    k2 = f(z + h / 2 * k1, theta, t + h / 2)
    k3 = f(z + h / 2 * k2, theta, t + h / 2)
    k4 = f(z + h * k3, theta, t + h)
    increment = np.asarray(h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), dtype=np.float32)
    return z + increment
