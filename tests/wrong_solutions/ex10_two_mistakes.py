"""Exercise 10 with two mistakes at once: ∂g/∂θ left out of a_θ (dL/dθ wrong) and ∂g/∂z added to λ's rate
with the wrong sign (dL/dz0 wrong, and dL/dθ through λ): the grader must name both outputs."""
import numpy as np
from autograd import make_vjp
from autograd.misc import flatten

from adjoint_ref.rk4 import solve_interval


def running_cost_adjoint(f, g, z1, theta, t0, t1, dL_dz1, n_steps):
    n, shape = np.size(z1), np.shape(z1)
    flat_theta, unflatten = flatten(theta)

    def rates(s, flat_theta, t):
        z, lam = s[:n].reshape(shape), s[n:2 * n].reshape(shape)
        f_pullback, dz_dt = make_vjp(f, argnum=(0, 1))(z, unflatten(flat_theta), t)
        g_pullback, _ = make_vjp(g, argnum=0)(z, unflatten(flat_theta), t)
        lam_fz, lam_ftheta = f_pullback(lam)
        return np.concatenate([np.ravel(dz_dt), np.ravel(-lam_fz + g_pullback(1.0)), -flatten(lam_ftheta)[0]])

    s1 = np.concatenate([np.ravel(z1), np.ravel(dL_dz1), np.zeros(flat_theta.size)])
    s0 = solve_interval(rates, s1, flat_theta, t1, t0, n_steps)
    return s0[n:2 * n].reshape(shape), unflatten(s0[2 * n:])
