"""Exercise 7 answered with the package's backprop (a shortcut the grader refuses)."""
import autograd.numpy as anp

from adjoint_ref import gradients


def discrete_adjoint(f, z0, theta, t0, t1, dL_dz1, n_steps):
    result = gradients(lambda zs: anp.sum(dL_dz1 * zs[-1]), f, z0, theta, [t0, t1], n_steps, method="backprop")
    return result.z0, result.theta
