"""Exercise 2 with a plausible mistake: the right numbers, from full Jacobians (autograd.jacobian)
contracted with λ, where the statement asks for one make_vjp call and no Jacobian."""
import numpy as np
from autograd import jacobian
from autograd.misc import flatten


def vjps(f, z, theta, t, lam):
    flat, unflatten = flatten(theta)
    J_z = jacobian(f, 0)(z, theta, t)
    J_theta = jacobian(lambda flat: f(z, unflatten(flat), t))(flat)
    return np.tensordot(lam, J_z, axes=lam.ndim), unflatten(np.tensordot(lam, J_theta, axes=lam.ndim))
