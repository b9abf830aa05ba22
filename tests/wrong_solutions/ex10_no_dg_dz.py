"""Exercise 10 with a common mistake: ∂g/∂θ added to a_θ, but λ left as in eq. (11), without −∂g/∂z."""
import numpy as np
from autograd import make_vjp

from adjoint_ref.rk4 import solve_interval


def running_cost_adjoint(f, g, z1, theta, t0, t1, dL_dz1, n_steps):
    n, shape = z1.size, np.shape(z1)

    def ds_dt(s, th, t):
        z, lam = s[:n].reshape(shape), s[n:2 * n].reshape(shape)
        vjp_f, dz = make_vjp(f, argnum=(0, 1))(z, th, t)
        lam_fz, lam_fth = vjp_f(lam)
        g_theta = make_vjp(g, argnum=1)(z, th, t)[0](1.0)
        return np.concatenate([np.ravel(dz), np.ravel(-lam_fz), np.ravel(-lam_fth - g_theta)])

    s1 = np.concatenate([np.ravel(z1), np.ravel(dL_dz1), np.zeros(np.size(theta))])
    s0 = solve_interval(ds_dt, s1, theta, t1, t0, n_steps)
    return s0[n:2 * n].reshape(shape), s0[2 * n:].reshape(np.shape(theta))
