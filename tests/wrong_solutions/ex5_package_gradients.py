"""Exercise 5 answered with the package's time gradient dL/dts[0] (a shortcut the grader refuses)."""
import numpy as np

from adjoint_ref.adjoint import adjoint_gradients


def dL_dt0(f, z1, theta, t0, t1, dL_dz1, n_steps):
    _, _, dL_dts = adjoint_gradients(f, np.stack([z1, z1]), theta, np.array([t0, t1]), n_steps,
                                     np.stack([0 * dL_dz1, dL_dz1]))
    return dL_dts[0]
