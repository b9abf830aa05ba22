"""Reference answer to exercise 10: exercise 4's backward pass with a running cost's gradients, eq. (R2)."""
import numpy as np
from autograd import make_vjp
from autograd.misc import flatten

from adjoint_ref.rk4 import solve_interval


def running_cost_adjoint(f, g, z1, theta, t0, t1, dL_dz1, n_steps):
    """Integrate s = [z, λ, a_θ] from [z1, ∂ℓ/∂z(t1), 0] at t1 to t0, with g's gradients added to the rates.

    θ may be a container: the rates work on its flat form (autograd.misc.flatten) and dL/dθ is rebuilt
    at the end. One make_vjp of f and one of g per stage.
    """
    n, shape = np.size(z1), np.shape(z1)
    flat_theta, unflatten = flatten(theta)

    def rates(s, flat_theta, t):
        z, lam = s[:n].reshape(shape), s[n:2 * n].reshape(shape)
        theta = unflatten(flat_theta)
        f_pullback, dz_dt = make_vjp(f, argnum=(0, 1))(z, theta, t)
        g_pullback, _ = make_vjp(g, argnum=(0, 1))(z, theta, t)
        lam_fz, lam_ftheta = f_pullback(lam)
        g_z, g_theta = g_pullback(1.0)
        return np.concatenate([np.ravel(dz_dt), -np.ravel(lam_fz + g_z),
                               -(flatten(lam_ftheta)[0] + flatten(g_theta)[0])])

    s1 = np.concatenate([np.ravel(z1), np.ravel(dL_dz1), np.zeros(flat_theta.size)])
    s0 = solve_interval(rates, s1, flat_theta, t1, t0, n_steps)
    return s0[n:2 * n].reshape(shape), unflatten(s0[2 * n:])
