"""The continuous adjoint: eqs. (11) and (12) and the time gradients, solved backwards in time.

The post's row-vector convention is kept: λ has the shape of z, and "λ ∂f/∂z" is the
vector–Jacobian product (λᵀ J)ᵀ, computed by reverse-mode autodiff without forming J.

Backwards from the last observation time the solver carries one augmented state

    s = [z, λ, a_θ, a_t],   ds/dt = [f, −λ ∂f/∂z, −λ ∂f/∂θ, −λ ∂f/∂t],

where a_θ(t) = ∫_t^{t_N} λ ∂f/∂θ dt' (so a_θ(t0) = dL/dθ, eq. 12) and a_t(t) = −λ(t)·f(z(t), θ, t)
(so a_t(t0) = dL/dt0). z is re-integrated backwards alongside λ: nothing between observation
times is stored, so memory does not grow with the number of steps. For strongly contracting
dynamics that backward z is wrong (round-off grows like e^{kT}): the loop measures the drift at every
observation time (`_impl/drift.py`), and with `checkpoints` the stages read z from the forward solve
recomputed from checkpoints instead (`_impl/checkpoints.py`), the state keeping the same layout.

A running cost ∫ g(z, θ, t) dt in the loss adds its own gradient to each right-hand side:
dλ/dt = −λ ∂f/∂z − ∂g/∂z, da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ, da_t/dt = −λ ∂f/∂t − ∂g/∂t (`with_running_cost`).
"""
import functools
import math
from collections import namedtuple

import numpy as np

from . import adaptive
from ._impl import checkpoints as checkpointing
from ._impl import drift as drifting
from ._impl import tree
from ._impl.drift import AdjointDriftWarning  # noqa: F401 (adjoint_ref.adjoint.AdjointDriftWarning, as before)
from ._impl.fast_vjp import vjp_of
from ._impl.validate import Tolerances, add_note, check_finite_state
from .rk4 import integrate, interval_steps, rk4_step


def unpack(s, z_shape):
    """(z, λ, a_θ, a_t) of the flat augmented state s = [z, λ, a_θ, a_t]: z and λ shaped like z, a_θ flat."""
    n = math.prod(z_shape)
    return s[:n].reshape(z_shape), s[n:2 * n].reshape(z_shape), s[2 * n:-1], s[-1]


def pack(z, lam, a_theta, a_t):
    """The flat augmented state s = [z, λ, a_θ, a_t]."""
    return np.concatenate([np.ravel(z), np.ravel(lam), a_theta, [a_t]])


def augmented_dynamics(f, z_shape, g=None, z_at=None):
    """Eqs. (11)–(12) and the t-gradient as one ODE for the flat state s = [z, λ, a_θ, a_t]:

        dz/dt = f,   dλ/dt = −λ ∂f/∂z (11),   da_θ/dt = −λ ∂f/∂θ (12),   da_t/dt = −λ ∂f/∂t.

    With a running cost g each product gains the gradient of g (`with_running_cost`). With z_at (the
    checkpointed adjoint) f and its products are taken at z = z_at(t), the forward solve, instead of
    at the z carried in s.
    """
    f_and_pullback = with_running_cost(vjp_of(f), g)

    def ds_dt(s, theta, t):
        z, lam, _, _ = unpack(s, z_shape)
        dz_dt, pullback = f_and_pullback(z if z_at is None else z_at(t), theta, t)  # f and one reverse sweep
        lam_fz, lam_ftheta, lam_ft = pullback(lam)
        return pack(dz_dt, -lam_fz, -lam_ftheta, -lam_ft)

    return ds_dt


def with_running_cost(f_and_pullback, g):
    """`f_and_pullback` (from vjp_of(f)) with the gradient of a running cost g(z, θ, t) added to its
    products: λ ↦ (λ ∂f/∂z + ∂g/∂z, λ ∂f/∂θ + ∂g/∂θ, λ ∂f/∂t + ∂g/∂t), the gradient of H = λ·f + g.
    Without a running cost (g None) it is `f_and_pullback` itself."""
    if g is None:
        return f_and_pullback
    g_and_pullback = vjp_of(g)

    def with_g(z, theta, t):
        dz_dt, pullback = f_and_pullback(z, theta, t)
        g_pullback = g_and_pullback(z, theta, t)[1]
        return dz_dt, lambda lam: tuple(a + b for a, b in zip(pullback(lam), g_pullback(1.0)))

    return with_g


Backward = namedtuple("Backward", ["t", "z", "lam", "a_theta", "a_t", "jumps", "drift", "gradients"])
Backward.__doc__ = """One backward pass, recorded (`adjoint_gradients(..., trace=True)`): row r of the arrays t (decreasing),
z, λ, a_θ (flat) and a_t is the state s = [z, λ, a_θ, a_t] at time t[r]: the start at t_N, one row after
every step, and one after each jump at an observation time, whose rows are `jumps` (t_{N−1}, …, t_0;
there z is the stored forward z). drift: the `drift.Drift` checks (t_i, relative drift, threshold) of
the plain adjoint, one per interval; gradients: (dL/dz0, dL/dθ flat, dL/dts)."""


def adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs, checkpoints=None, running_loss=None, stats=None,
                      trace=False):
    """Eqs. (11)–(12): dL/dz0, dL/dθ (flat) and dL/dts by solving the adjoint system from ts[-1] to ts[0].

    zs are the forward states at the observation times, dL_dzs = ∂L/∂zs (same shape). The state starts
    at t_N as s = [z(t_N), λ = ∂L/∂z(t_N), a_θ = 0, a_t = −dL/dt_N]. Interval by interval from the last,
    z restarts from the stored forward z(t_i), s is carried back to t_{i−1} by n_steps RK4 steps of
    `augmented_dynamics`, and then

      λ jumps by ∂L/∂z(t_{i−1}):  λ(t_{i−1}⁻) = λ(t_{i−1}⁺) + ∂L/∂z(t_{i−1});
      dL/dt_i = ∂L/∂z(t_i) · f(z(t_i), θ, t_i) for i ≥ 1 (moving t_i moves where z is observed),
      and a_t jumps by −dL/dt_i;
      dL/dt_0 = a_t(t_0) = −λ(t_0⁺) · f(z0, θ, t_0) = −λ(t_N)·f(z(t_N), θ, t_N) − ∫_{t_N}^{t_0} λ ∂f/∂t dt
      (with the jumps), λ(t_0⁺) excluding ∂L/∂z(t_0). The comment under the post writes
      dL/dt0 = dL/dt_N + ∫_{t_N}^{t_0} λ ∂f/∂t dt, the negative of this: it equals λ(t0)·f.

    checkpoints=None integrates z backwards with λ (no memory), and at every observation time compares
    the backward z with the stored forward z: an `AdjointDriftWarning` when it drifted further than RK4's
    error allows (`_impl/drift.py`). checkpoints=K reads z from the forward solve recomputed from K
    checkpoints per interval instead (memory O(K + n_steps/K)); checkpoints="auto" runs the plain pass
    and, if it drifted, runs again with K = ⌈√n_steps⌉ and says so (`_impl/checkpoints.py`).
    n_steps may instead be dopri5's `Tolerances`: each interval is then crossed by adaptive Dormand–Prince
    steps of their own (`stats`, a dict, receives their counts under "backward"; module doc of `methods`).
    running_loss=g adds ∫_{t0}^{t_N} g(z, θ, t) dt to the loss: ∂g/∂z, ∂g/∂θ, ∂g/∂t join the right-hand
    sides (`with_running_cost`), and dL/dt_N gains g(z(t_N), θ, t_N); then dL/dt0 = −λ(t0⁺)·f − g(z0, θ, t0).
    Returns (dL/dz0, dL/dθ flat, dL/dts), or with trace=True the whole pass as a `Backward` record.
    """
    if checkpoints == "auto":  # the plain pass, and if z drifted the checkpointed one
        return checkpointing.plain_then_checkpointed(functools.partial(
            adjoint_gradients, f, zs, theta, ts, n_steps, dL_dzs, running_loss=running_loss, trace=trace,
            stats=stats),
            max(interval_steps(n_steps, len(ts) - 1)), stats)
    shape, drifts, jumps = zs[0].shape, [], []  # jumps: the rows of the trace after λ's jumps
    ds_dt = augmented_dynamics(f, shape, running_loss)
    along = functools.partial(augmented_dynamics, f, shape, running_loss)  # the same, read at z = z_at(t)
    if isinstance(n_steps, Tolerances):  # dopri5: adaptive backward steps, their counts in stats
        accepted = [] if trace else None  # (t, s) after every accepted step, for the trace
        controller = backward_controller(n_steps, zs, accepted)
        ds_dt = adaptive.counting(ds_dt, controller.stats)
    rate_end = f(zs[-1], theta, ts[-1])  # dz/dt at t_N
    dL_dts = np.zeros(len(ts))
    dL_dts[-1] = np.vdot(dL_dzs[-1], rate_end)
    if running_loss is not None:  # the upper limit of ∫ g dt moves with t_N
        dL_dts[-1] += np.sum(running_loss(zs[-1], theta, ts[-1]))
    lam, a_theta, a_t = np.asarray(dL_dzs[-1], dtype=float), np.zeros(tree.size(theta)), -dL_dts[-1]
    states = [(ts[-1], pack(zs[-1], lam, a_theta, a_t))] if trace else None
    steps = None if isinstance(n_steps, Tolerances) else interval_steps(n_steps, len(ts) - 1)
    for i in range(len(ts) - 1, 0, -1):
        s = s_end = pack(zs[i], lam, a_theta, a_t)  # z restarts from the stored forward z(t_i)
        if steps is None:  # across [t_{i−1}, t_i] by adaptive steps
            s, _ = adaptive.adaptive_interval(ds_dt, s, theta, ts[i], ts[i - 1], controller)
            if trace:
                states, accepted[:] = states + accepted, []
        elif checkpoints is not None:  # across by RK4 steps along z recomputed from checkpoints
            s, crossed = checkpointing.cross(along, f, theta, s, zs[i - 1], ts[i - 1], ts[i], steps[i - 1],
                                             checkpoints, trace)
            states = states + crossed if trace else None
        else:  # across by n_i RK4 steps backwards, z alongside λ
            h = (ts[i - 1] - ts[i]) / steps[i - 1]
            with np.errstate(over="ignore", invalid="ignore"):
                for k in range(steps[i - 1]):
                    t = ts[i] + k * h
                    try:
                        s = rk4_step(ds_dt, s, theta, t, h)
                    except Exception as err:
                        add_note(err, f"raised in the RK4 step from t={t:.6g} to t={t + h:.6g} during the "
                                      "backward pass")
                        raise
                    check_finite_state(s, t + h, "backward")
                    if trace:
                        states.append((t + h, s))
        z_back, lam, a_theta, a_t = unpack(s, shape)
        needed = checkpoints is None or i - 1 > 0  # by the drift check or by dL/dt_{i−1}
        rate_start = f(zs[i - 1], theta, ts[i - 1]) if needed else None  # dz/dt at t_{i−1}
        if checkpoints is None:  # did the backward z stay on the forward z? (warns if not)
            rerun = functools.partial(checkpointing.cross, along, f, theta, s_end, zs[i - 1], ts[i - 1], ts[i])
            grid = n_steps if steps is None else steps[i - 1]
            drifts.append(check_drift(zs, ts, i, s, (rate_start, rate_end), grid, rerun))
        if i - 1 > 0:  # a_t's jump: −dL/dt_{i−1}
            dL_dts[i - 1] = np.vdot(dL_dzs[i - 1], rate_start)
            a_t = a_t - dL_dts[i - 1]
        lam = lam + dL_dzs[i - 1]  # λ's jump: λ(t_{i−1}⁻) = λ(t_{i−1}⁺) + ∂L/∂z(t_{i−1})
        rate_end = rate_start
        if trace:
            jumps.append(len(states))
            states.append((ts[i - 1], pack(zs[i - 1], lam, a_theta, a_t)))
    if isinstance(n_steps, Tolerances) and stats is not None:
        stats["backward"] = dict(controller.stats)
    dL_dts[0] = a_t
    if not trace:
        return lam, a_theta, dL_dts
    rows = [unpack(state, shape) for _, state in states]
    return Backward(np.array([t for t, _ in states]), *map(np.array, zip(*rows)), np.array(jumps), tuple(drifts),
                    (lam, a_theta, dL_dts))


def check_drift(zs, ts, i, s, rates, grid, rerun):
    """`drift.Drift` of the backward z at t_{i−1} (an AdjointDriftWarning if it drifted too far), s being the
    plain adjoint's state there. dopri5 (grid: `Tolerances`): the tolerances' bound. RK4 (grid = n_steps):
    the free bound (ω h)⁴, and above it the drift's effect on [λ, a_θ, a_t] against the checkpointed
    re-run of the interval, rerun(n, K) = `checkpoints.cross` at n steps (`drift.rk4_drift`)."""
    z_back, n = unpack(s, zs[0].shape)[0], zs[0].size
    if isinstance(grid, Tolerances):
        return drifting.adaptive_drift(z_back, zs[i - 1], ts[i - 1], grid)
    h = (ts[i] - ts[i - 1]) / grid
    threshold = float(max(drifting.drift_threshold(zs[i], rates[1], h),
                          drifting.drift_threshold(zs[i - 1], rates[0], h)))
    return drifting.rk4_drift(ts[i - 1], drifting.relative_drift(z_back, zs[i - 1]), threshold, s[n:],
                              lambda steps: rerun(steps, checkpointing.auto_checkpoints(steps))[0][n:], grid,
                              (n, len(s) - n - 1))  # the blocks λ, a_θ, a_t


def backward_controller(tol, zs, accepted=None):
    """dopri5's step controller for the backward pass: the adjoint tolerances, the error measured on
    [z, λ] only when tol.seminorm, and a stop as soon as the backward z blows up (`drift.blow_up_guard`);
    (t, s) after every accepted step is appended to the list `accepted`, if given (for a trace)."""
    shape = zs[0].shape
    guard = drifting.blow_up_guard(zs, lambda s: unpack(s, shape)[0])

    def watch(s, t):
        guard(s, t)
        if accepted is not None:
            accepted.append((t, s))

    return adaptive.Adaptive(tol.adjoint_rtol, tol.adjoint_atol, 2 * zs[0].size if tol.seminorm else None,
                             "backward", watch=watch)


def solve(f, z0, theta, ts, n_steps, checkpoints=None, trace=False, stats=None):
    """The gradient method "adjoint": zs by RK4 (eq. 3) and a pullback ∂L/∂zs ↦ (dL/dz0, dL/dθ flat,
    dL/dts) that solves eqs. (11)–(12) backwards (`adjoint_gradients`; with trace=True a `Backward`)."""
    checkpointing.check_checkpoint_memory(z0, n_steps, checkpoints)
    zs = integrate(f, z0, theta, ts, n_steps)
    return zs, functools.partial(adjoint_gradients, f, zs, theta, ts, n_steps, checkpoints=checkpoints, trace=trace,
                                 stats=stats)
