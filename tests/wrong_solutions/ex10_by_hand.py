"""Exercise 10 with a plausible mistake: g's gradients derived by hand for one running cost,
g = ½‖z‖² + cos(t) Σ z W with θ = [W; w] (∂g/∂z = z + cos(t) Σ_j W_ij, ∂g/∂W = cos(t) Σ_batch z),
instead of from g by make_vjp: wrong for every other g."""
import numpy as np
from autograd import make_vjp

from adjoint_ref.rk4 import solve_interval


def running_cost_adjoint(f, g, z1, theta, t0, t1, dL_dz1, n_steps):
    n, shape = z1.size, z1.shape

    def rates(s, theta, t):
        z, lam = s[:n].reshape(shape), s[n:2 * n].reshape(shape)
        pullback, dz_dt = make_vjp(f, argnum=(0, 1))(z, theta, t)
        lam_fz, lam_ftheta = pullback(lam)
        g_z = z + np.cos(t) * theta[:-1].sum(axis=1)
        g_W = np.cos(t) * np.outer(z.reshape(-1, shape[-1]).sum(axis=0), np.ones(shape[-1]))
        g_theta = np.vstack([g_W, np.zeros((1, shape[-1]))])
        return np.concatenate([np.ravel(dz_dt), np.ravel(-lam_fz - g_z), np.ravel(-lam_ftheta - g_theta)])

    s1 = np.concatenate([np.ravel(z1), np.ravel(dL_dz1), np.zeros(theta.size)])
    s0 = solve_interval(rates, s1, theta, t1, t0, n_steps)
    return s0[n:2 * n].reshape(shape), s0[2 * n:].reshape(theta.shape)
