"""Central finite differences of the forward pass: the gradient check that trusts no autodiff.

For every scalar p of z0, θ and ts, dzs/dp ≈ (zs(p + δ) − zs(p − δ)) / 2δ. The truncation error
is O(δ²) relative to the scale s on which zs varies with p, the round-off O(ε/δ); the step
δ = ε^(1/3)·s balances the two at about ε^(2/3) ≈ 4e-11. The scale s is read off the inputs:

- z0 and each leaf of θ: s = max(|p|, rms of its array), so tiny or huge parameters get steps to match
  (1 when the whole array is zero);
- an observation time t_i: zs curves in t_i on the time scale of the dynamics, taken as 1 (as the
  classic rule max(1, |p|) does), but t_i can only be moved in steps of ε|t_i|, and the solver's stage
  times carry the same absolute rounding, noise of relative size ε|t_i| on zs. The step
  δ = (ε · max(|t_i|, 1))^(1/3) balances that noise against the truncation error (ε^(1/3) for times
  near 0; 7e-3 for Unix-second times near 1.7e9, where max(1, |t|)·ε^(1/3) would be 1e4, far past
  the neighbouring times). It is capped at a quarter of the spacing of ts around t_i, so the
  perturbed times stay in order.
"""
import numpy as np

from .rk4 import integrate
from ._impl.metrics import rms
from ._impl.tree import leaves, ravel_tree, unravel_like

EPS = np.finfo(np.float64).eps
STEP = EPS ** (1 / 3)


def fd_vjp(fun, x, g, steps=None):
    """g · d fun/dx at the flat point x, by central differences: two calls of fun per component.

    `steps` holds δ for each component (default `value_steps(x)`)."""
    steps = value_steps(x) if steps is None else steps
    out = np.zeros(x.size)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += steps[i]
        down[i] -= steps[i]
        out[i] = np.vdot(g, fun(up) - fun(down)) / (up[i] - down[i])
    return out


def value_steps(x):
    """δ = ε^(1/3) · max(|x_i|, rms(x)) for the entries of one array (rms 0 counts as 1)."""
    x = np.ravel(x)
    return STEP * np.maximum(np.abs(x), rms(x) or 1.0)


def time_steps(ts):
    """δ_i = min((ε · max(|t_i|, 1))^(1/3), s_i / 4), s_i the shorter of the two intervals around t_i."""
    spacing = np.abs(np.diff(ts))
    s = np.minimum(np.concatenate([spacing[:1], spacing]), np.concatenate([spacing, spacing[-1:]]))
    return np.minimum(np.cbrt(EPS * np.maximum(np.abs(ts), 1.0)), s / 4)


def solve(f, z0, theta, ts, n_steps):
    """The gradient method "finite_differences": zs by RK4 and a pullback ∂L/∂zs ↦ (dL/dz0, dL/dθ flat,
    dL/dts) = ∂L/∂zs · dzs/dp, with dzs/dp by central differences of the whole forward pass.

    Costs 2·(size of z0 + size of θ + len(ts)) forward solves.
    """
    def forward(z0, theta, ts):
        return integrate(f, z0, theta, ts, n_steps)

    return forward(z0, theta, ts), pullback_of(forward, z0, theta, ts)


def pullback_of(forward, z0, theta, ts):
    """∂L/∂zs ↦ (dL/dz0, dL/dθ flat, dL/dts) by central differences of zs = forward(z0, θ, ts), with
    the steps above for z0, each leaf of θ and ts."""
    theta_steps = np.concatenate([value_steps(leaf) for leaf in leaves(theta)] or [np.zeros(0)])

    def pullback(dL_dzs):
        g_z0 = fd_vjp(lambda x: forward(x.reshape(z0.shape), theta, ts), np.ravel(z0), dL_dzs)
        g_theta = fd_vjp(lambda x: forward(z0, unravel_like(x, theta), ts), ravel_tree(theta), dL_dzs, theta_steps)
        g_ts = fd_vjp(lambda x: forward(z0, theta, x), ts.copy(), dL_dzs, time_steps(ts))
        return g_z0.reshape(z0.shape), g_theta, g_ts

    return pullback
