"""Exercise 5 with a common mistake: only the starting value −λ(t1)·f(z(t1), θ, t1)."""
import numpy as np


def dL_dt0(f, z1, theta, t0, t1, dL_dz1, n_steps):
    return -np.vdot(dL_dz1, f(z1, theta, t1))
