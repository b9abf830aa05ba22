"""The adjoint's backward pass as arrays: `adjoint_trajectory`, to plot and to read eqs. (11)–(12) at work.

`gradients(method="adjoint")` returns only where the backward pass ends (λ(t0) = dL/dz0, a_θ(t0) = dL/dθ,
a_t(t0) = dL/dt0). `adjoint_trajectory` keeps every step on the way, from t_N back to t_0: the backward
z, λ, a_θ and a_t, the jumps at the observation times, and next to the backward z the forward z at the
same times, so that the drift ‖z_back − z‖ of the plain adjoint can be seen where it grows.
"""
from collections import namedtuple

import numpy as np

from . import adaptive
from ._impl import validate
from ._impl.tree import unravel_like
from .api import _solver_settings, collected, forward_and_loss, warn_if_dense
from .rk4 import interval_steps, step_states

Jumps = namedtuple("Jumps", ["t", "lam", "a_t", "row"])
Jumps.__doc__ = """What the backward pass adds at each observation time t_N, …, t_0: λ's jump (λ after minus λ
before; λ before t_N is 0), which eq. (11)'s solution makes ∂L/∂z(t_i); a_t's jump (−dL/dt_i, 0 at t_0);
and the row of the trajectory holding the state after the jump. Read off the trajectory's arrays."""


class Trajectory(namedtuple("Trajectory", ["t", "z", "z_forward", "lam", "a_theta", "a_t", "jumps", "drift",
                                           "gradients"])):
    """One backward pass of the adjoint, row by row from t_N to t_0 (`adjoint_trajectory`).

    t: each row's time; the first row is t_N, then one row after every backward step, and at each
    earlier observation time a second row with the state after the jump (so t_i appears twice).
    z: the z the backward pass carries (integrated backwards; with checkpoints, integrated along the
    recomputed forward z); z_forward: the forward z at the same times (recomputed from the stored
    z(t_i)); lam: λ; a_theta: a_θ, flat (`a_theta_tree(r)` in θ's structure); a_t: a_t; jumps: `Jumps`;
    drift: the plain adjoint's drift checks (`drift.Drift` per interval); gradients: the `Gradients`
    that `gradients(method="adjoint")` returns for the same arguments."""

    def a_theta_tree(self, row):
        """a_θ at row `row` in θ's container structure (a_θ at the last row is dL/dθ)."""
        return unravel_like(self.a_theta[row], self.gradients.theta)


def adjoint_trajectory(loss, f, z0, theta, ts, n_steps=None, checkpoints=None, solver="rk4", step_size=None,
                       running_loss=None, rtol=None, atol=None, adjoint_rtol=None, adjoint_atol=None, seminorm=False,
                       stats=None):
    """The adjoint's backward pass (eqs. 11–12) for L = loss(odeint(f, z0, θ, ts)), every step kept: a `Trajectory`.

    The arguments are those of `gradients` with method="adjoint": n_steps (one count or one per interval)
    or step_size for solver="rk4" (then one row per RK4 step), checkpoints, running_loss, or
    solver="dopri5" with its tolerances (one row per accepted backward step), and stats. Memory grows
    with the number of steps: this is for looking at a backward pass, not for training.
    """
    validate.choice(solver, ("rk4", "dopri5"), "solver")
    z0, theta, ts = validate.inputs(f, z0, theta, ts)
    warn_if_dense(n_steps, solver, ts, step_size)
    validate.not_traced(z0, theta, ts)
    table, grid, options = _solver_settings(solver, "adjoint", "method", (n_steps, step_size, ts), checkpoints,
                                            stats, running_loss, rtol=rtol, atol=atol, adjoint_rtol=adjoint_rtol,
                                            adjoint_atol=adjoint_atol, seminorm=seminorm)
    if running_loss is not None:
        validate.check_running_loss(running_loss, z0, theta, ts[0])
    pullback, value, dL_dzs = forward_and_loss(table, "adjoint", loss, f, z0, theta, ts, grid, running_loss,
                                               trace=True, **options)
    back = pullback(dL_dzs)
    rows = [0] + list(back.jumps)  # the rows after the jumps at t_N, t_{N−1}, …, t_0
    forward = forward_states(f, back.z, theta, back.t, rows, grid, len(ts) - 1)
    return Trajectory(back.t, back.z, forward, back.lam, back.a_theta, back.a_t, jumps_of(back, rows), back.drift,
                      collected("adjoint", value, back.gradients, theta))


def jumps_of(back, rows):
    """`Jumps` read off a backward record: at row r after a jump, the state minus the row before it."""
    lam_before = np.array([np.zeros_like(back.lam[0])] + [back.lam[r - 1] for r in rows[1:]])
    a_t_before = np.array([0.0] + [back.a_t[r - 1] for r in rows[1:]])
    return Jumps(back.t[rows], back.lam[rows] - lam_before, back.a_t[rows] - a_t_before, np.array(rows))


def forward_states(f, z_back, theta, t, rows, grid, intervals):
    """The forward z at every row's time, interval by interval from the stored z(t_i) (in the rows after the
    jumps the backward z is the stored forward z). On RK4's grid (n_steps) the backward steps land on the
    forward steps: their states, recomputed. For dopri5 (grid: `Tolerances`) a forward solve to the accepted
    backward times, at the forward tolerances."""
    z_forward = np.array(z_back)
    adaptive_steps = isinstance(grid, validate.Tolerances)
    steps = [None] * intervals if adaptive_steps else interval_steps(grid, intervals)
    for i in range(intervals, 0, -1):
        after_t_i, after_t_before = rows[intervals - i], rows[intervals - i + 1]
        z_start, t_start = z_back[after_t_before], t[after_t_before]  # the stored z(t_{i−1})
        inside = slice(after_t_i + 1, after_t_before - 1)  # the steps' rows, not their arrival at t_{i−1}
        if not adaptive_steps and steps[i - 1] > 1:
            z_forward[inside] = step_states(f, z_start, theta, t_start, t[after_t_i], steps[i - 1])[-2:0:-1]
        elif inside.stop > inside.start:
            times = np.concatenate([[t_start], t[inside][::-1]])
            controller = adaptive.Adaptive(grid.rtol, grid.atol)
            z_forward[inside] = adaptive.adaptive_integrate(f, z_start, theta, times, controller)[1:][::-1]
        z_forward[after_t_before - 1] = z_start
    return z_forward
