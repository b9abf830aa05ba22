"""Exercise 4 answered with the package's own continuous adjoint (a shortcut the grader refuses)."""
import numpy as np

from adjoint_ref.adjoint import adjoint_gradients


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    zs = np.stack([z1, z1])  # z0 is not needed by the adjoint: it re-integrates z from z1
    dL_dz0, dL_dtheta, _ = adjoint_gradients(f, zs, theta, np.array([t0, t1]), n_steps,
                                             np.stack([0 * dL_dz1, dL_dz1]))
    return dL_dz0, dL_dtheta.reshape(theta.shape)
