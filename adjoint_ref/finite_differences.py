"""Central finite differences of the forward pass: the gradient check that trusts no autodiff.

For every scalar p of z0, θ and ts, dzs/dp ≈ (zs(p + δ) − zs(p − δ)) / 2δ, with
δ = ε^(1/3)·max(1, |p|) (ε the float64 machine epsilon). The truncation error is O(δ²) and the
round-off O(ε/δ); this step balances the two at roughly ε^(2/3) ≈ 4e-11 relative to the scale of zs.
"""
import numpy as np

from .tree import ravel_tree, unravel_like
from .rk4 import integrate

STEP = np.finfo(np.float64).eps ** (1 / 3)


def fd_vjp(fun, x, g):
    """g · d fun/dx at the flat point x, by central differences: two calls of fun per component."""
    out = np.zeros(x.size)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        delta = STEP * max(1.0, abs(x[i]))
        up[i] += delta
        down[i] -= delta
        out[i] = np.vdot(g, fun(up) - fun(down)) / (up[i] - down[i])
    return out


def solve(f, z0, theta, ts, n_steps):
    """The gradient method "finite_differences": zs by RK4 and a pullback ∂L/∂zs ↦ (dL/dz0, dL/dθ flat,
    dL/dts) = ∂L/∂zs · dzs/dp, with dzs/dp by central differences of the whole forward pass.

    Costs 2·(size of z0 + size of θ + len(ts)) forward solves.
    """
    zs = integrate(f, z0, theta, ts, n_steps)

    def pullback(dL_dzs):
        g_z0 = fd_vjp(lambda x: integrate(f, x.reshape(z0.shape), theta, ts, n_steps), np.ravel(z0), dL_dzs)
        g_theta = fd_vjp(lambda x: integrate(f, z0, unravel_like(x, theta), ts, n_steps), ravel_tree(theta),
                         dL_dzs)
        g_ts = fd_vjp(lambda x: integrate(f, z0, theta, x, n_steps), ts.copy(), dL_dzs)
        return g_z0.reshape(z0.shape), g_theta, g_ts

    return zs, pullback
