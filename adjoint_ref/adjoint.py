"""The continuous adjoint: eqs. (11) and (12) and the time gradients, solved backwards in time.

The post's row-vector convention is kept: λ has the shape of z, and "λ ∂f/∂z" is the
vector–Jacobian product (λᵀ J)ᵀ, computed by reverse-mode autodiff without forming J.

Backwards from the last observation time the solver carries the augmented state

    s = [z, λ, a_θ, a_t],   ds/dt = [f, −λ ∂f/∂z, −λ ∂f/∂θ, −λ ∂f/∂t],

where a_θ(t) = ∫_t^{t_N} λ ∂f/∂θ dt' (so a_θ(t0) = dL/dθ, eq. 12) and a_t(t) = −λ(t)·f(z(t), θ, t)
(so a_t(t0) = dL/dt0). z is re-integrated backwards alongside λ: nothing between observation
times is stored, so memory does not grow with the number of steps. For strongly contracting
dynamics that backward z is wrong (round-off grows like e^{kT}); with `checkpoints` the backward
pass instead re-integrates z forwards from checkpoints and carries only [λ, a_θ, a_t].

A running cost ∫ g(z, θ, t) dt in the loss adds its own gradient to each right-hand side:
dλ/dt = −λ ∂f/∂z − ∂g/∂z, da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ, da_t/dt = −λ ∂f/∂t − ∂g/∂t (`with_running_cost`).
"""
import functools
import math
import warnings

import numpy as np

from ._impl import tree
from ._impl.fast_vjp import vjp_of
from ._impl.memory import check_stored_states
from .rk4 import integrate, rk4_step, solve_interval, step_states


class AdjointDriftWarning(RuntimeWarning):
    """The plain adjoint's backward z left the forward z: its gradient is not to be trusted.

    Attributes: `t` (the observation time where the drift was measured), `drift` (relative),
    `threshold` (the level it exceeded), `rerun` (the checkpoints per interval of the second backward
    pass that checkpoints="auto" ran, or None)."""

    def __init__(self, t, drift, threshold, rerun=None, allows="what RK4's error at this step size allows",
                 remedy=None):
        self.t, self.drift, self.threshold, self.rerun = t, drift, threshold, rerun
        if remedy is None:
            remedy = (f"checkpoints='auto': ran the backward pass again with checkpoints={rerun}" if rerun else
                      "the gradient may be wrong. Recompute z forwards instead of backwards: checkpoints=K "
                      "(or checkpoints='auto'), or method='discrete_adjoint'")
        super().__init__(f"the adjoint's backward z drifted from the stored forward z: relative drift "
                         f"{drift:.2g} at t={t:.6g}, above {threshold:.2g} ({allows}); {remedy}.")


DRIFT_FLOOR = 1e-10  # round-off: a few hundred operations on float64, relative to ‖z‖


def drift_threshold(z, dz_dt, h):
    """A first, free bound on the relative drift ‖z_back − z‖ / ‖z‖ of a sound backward solve at a step h.

    Forwards and backwards, RK4 errs by about ω T (ω h)⁴ / 120 relative to ‖z‖ over a span T, with ω
    the rate of the flow; the round trip doubles it. The bound is (ω h)⁴, with ω estimated from a
    stored state and its rate dz_dt = f(z, θ, t) as ‖dz_dt‖ / ‖z‖ (0 when z = 0), never below
    DRIFT_FLOOR. ‖f‖/‖z‖ underestimates the rate of a fast–slow system, so a drift above this bound
    is measured again against `step_doubling_threshold` before anything is said.
    """
    size = float(np.linalg.norm(z))
    omega = float(np.linalg.norm(dz_dt)) / size if size > 0 else 0.0
    return max(min((omega * abs(h)) ** 4, 1.0), DRIFT_FLOOR)


DRIFT_MARGIN = 4.0  # over n · (one step's error): the round trip (2) and some growth of the error (2)


def step_doubling_threshold(f, theta, ends, h, n_steps):
    """The relative drift a sound backward solve can show, from RK4's own error measured at the interval's ends.

    At each end (z, t) in `ends` one RK4 step of h is compared with two of h/2: their difference is
    15/16 of the h-step's local error. Over n_steps steps forwards and again backwards a sound solve
    errs by no more than DRIFT_MARGIN · n_steps times the larger of the two (measured on the zoo and the
    test problems: at most 0.5 of that), while a backward z that grows exponentially exceeds it by
    orders of magnitude. 12 evaluations of f per end, spent only when `drift_threshold` was exceeded.
    """
    def local_error(z, t, step):
        whole = rk4_step(f, z, theta, t, step)
        halves = rk4_step(f, rk4_step(f, z, theta, t, step / 2), theta, t + step / 2, step / 2)
        return relative_drift(whole, halves)

    (z_start, t_start), (z_end, t_end) = ends
    worst = max(local_error(z_start, t_start, h), local_error(z_end, t_end, -h))
    return max(DRIFT_MARGIN * n_steps * worst, DRIFT_FLOOR)


def relative_drift(z_back, z):
    """‖z_back − z‖ / ‖z‖: how far the backward pass's z ended from the stored forward z."""
    scale = float(np.linalg.norm(z))
    gap = float(np.linalg.norm(np.ravel(z_back) - np.ravel(z)))
    return gap / scale if scale > 0 else gap


def with_running_cost(vjp_of_f, g):
    """`vjp_of_f` with the gradient of a running cost g(z, θ, t) added to its products: the pullback
    λ ↦ (λ ∂f/∂z + ∂g/∂z, λ ∂f/∂θ + ∂g/∂θ, λ ∂f/∂t + ∂g/∂t), the gradient of H = λ·f + g.
    Without a running cost (g None) it is `vjp_of_f` itself."""
    if g is None:
        return vjp_of_f
    vjp_of_g = vjp_of(g)

    def f_and_pullback(z, theta, t):
        dz_dt, pullback = vjp_of_f(z, theta, t)
        g_pullback = vjp_of_g(z, theta, t)[1]
        return dz_dt, lambda lam: tuple(a + b for a, b in zip(pullback(lam), g_pullback(1.0)))

    return f_and_pullback


def augmented_dynamics(f, z_shape, g=None):
    """Eqs. (11)–(12) and the t-gradient as one ODE for the flat state s = [z, λ, a_θ, a_t].

    Eq. (11): dλ/dt = −λ ∂f/∂z.  Eq. (12) in differential form: da_θ/dt = −λ ∂f/∂θ.
    Time gradient: da_t/dt = −λ ∂f/∂t. z itself follows dz/dt = f, integrated backwards.
    With a running cost g each product gains the gradient of g (`with_running_cost`):
    dλ/dt = −λ ∂f/∂z − ∂g/∂z, da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ, da_t/dt = −λ ∂f/∂t − ∂g/∂t.
    """
    n, vjp_of_f = int(np.prod(z_shape)), with_running_cost(vjp_of(f), g)

    def ds_dt(s, theta, t):
        z, lam = s[:n].reshape(z_shape), s[n:2 * n].reshape(z_shape)
        dz_dt, pullback = vjp_of_f(z, theta, t)  # one make_vjp: f and its reverse sweep
        lam_fz, lam_ftheta, lam_ft = pullback(lam)
        return np.concatenate([np.ravel(dz_dt), np.ravel(-lam_fz), -lam_ftheta, [-lam_ft]])

    return ds_dt


def adjoint_dynamics_along(f, z_shape, z_at, g=None):
    """The same eqs. (11)–(12) for s = [λ, a_θ, a_t] alone, along a known trajectory z(t) = z_at(t)
    (re-integrated forwards from a checkpoint instead of backwards with λ); g: a running cost."""
    n, vjp_of_f = int(np.prod(z_shape)), with_running_cost(vjp_of(f), g)

    def ds_dt(s, theta, t):
        _, pullback = vjp_of_f(z_at(t), theta, t)
        lam_fz, lam_ftheta, lam_ft = pullback(s[:n].reshape(z_shape))
        return np.concatenate([np.ravel(-lam_fz), -lam_ftheta, [-lam_ft]])

    return ds_dt


def _backsolve(f, z_start, z_end, s_adjoint, theta, t_end, t_start, n_steps, record, g=None):
    """[λ, a_θ, a_t] (flat) carried from t_end back to t_start, with z integrated backwards alongside.

    Returns (that state, z(t_start) as the backward pass reconstructed it). g: a running cost or None."""
    n = z_end.size
    steps = None if record is None else []
    s = solve_interval(augmented_dynamics(f, z_end.shape, g), np.concatenate([np.ravel(z_end), s_adjoint]),
                       theta, t_end, t_start, n_steps, "backward", steps)
    if record is not None:
        record.extend((t, state[:n].reshape(z_end.shape), state[n:]) for t, state in steps)
    return s[n:], s[:n].reshape(z_end.shape)


def segment_bounds(n_steps, checkpoints):
    """Step indices 0 = b_0 < b_1 < … < b_K = n_steps cutting an interval into K near-equal segments
    (K = checkpoints, at most n_steps); a checkpoint keeps z at the first step of each segment."""
    k = min(checkpoints, n_steps)
    return [j * n_steps // k for j in range(k + 1)]


def auto_checkpoints(n_steps):
    """K = ⌈√n_steps⌉: the checkpoints per interval needing the least memory, O(K + n_steps/K) = O(√n_steps)."""
    return math.ceil(math.sqrt(n_steps))


def check_checkpoint_memory(z0, n_steps, checkpoints):
    """`memory.MemoryLimitError` if the checkpointed adjoint would store too many states of z: K
    checkpoints and the 2⌈n_steps/K⌉ + 1 half-step states of the longest segment (see `_checkpointed`).
    With checkpoints="auto", the K of its possible rerun; with None, nothing is stored."""
    if checkpoints is None:
        return
    k = min(auto_checkpoints(n_steps) if checkpoints == "auto" else checkpoints, n_steps)
    check_stored_states(z0, k + 2 * math.ceil(n_steps / k) + 1,
                        f"the checkpointed adjoint with checkpoints={checkpoints!r} and n_steps={n_steps}",
                        f"Use more checkpoints: K = {auto_checkpoints(n_steps)} (about √n_steps) needs the least.")


def _checkpointed(f, z_start, z_end, s, theta, t_end, t_start, n_steps, record, checkpoints, g=None):
    """[λ, a_θ, a_t] (flat) carried from t_end back to t_start, with z recomputed from checkpoints.

    The forward pass is run again from z(t_start) to keep z at the start of each of K segments
    (memory O(K)). Then, segment by segment from the last, z is re-integrated forward from its
    checkpoint at half steps (memory O(n_steps / K)), so every RK4 stage of the backward step
    (at t, t − h/2, t − h) finds z(t) stored, and only [λ, a_θ, a_t] is integrated backwards.
    g: a running cost or None.
    """
    h = (t_end - t_start) / n_steps
    bounds = segment_bounds(n_steps, checkpoints)
    times = [t_start + b * h for b in bounds[:-1]] + [t_end]
    kept = [z_start]
    for j in range(len(bounds) - 2):
        kept.append(solve_interval(f, kept[-1], theta, times[j], times[j + 1], bounds[j + 1] - bounds[j]))
    for j in range(len(bounds) - 2, -1, -1):
        m, t_a = bounds[j + 1] - bounds[j], times[j]
        zs_half = step_states(f, kept[j], theta, t_a, times[j + 1], 2 * m)
        half = (times[j + 1] - t_a) / (2 * m)

        def z_at(t):
            return zs_half[int(round((t - t_a) / half))]

        steps = None if record is None else []
        s = solve_interval(adjoint_dynamics_along(f, z_start.shape, z_at, g), s, theta, times[j + 1], t_a, m,
                           "backward", steps)
        if record is not None:
            record.extend((t, z_at(t), state) for t, state in steps)
        zs_half = None  # free this segment's states before the next segment stores its own
    return s


def adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs, record=None, checkpoints=None, drift=None,
                      running_loss=None):
    """Eqs. (11)–(12): dL/dz0, dL/dθ (flat) and dL/dts by solving the adjoint system from ts[-1] to ts[0].

    zs are the forward states at the observation times, dL_dzs = ∂L/∂zs (same shape).
    λ(t_N) = ∂L/∂z(t_N); at each earlier observation time t_i, λ jumps by ∂L/∂z(t_i).

    Time-gradient convention (derived, and checked against finite differences in the tests):
      dL/dt_i = ∂L/∂z(t_i) · f(z(t_i), θ, t_i)  for i ≥ 1  (moving t_i moves where z is observed);
      dL/dt_0 = −λ(t_0⁺) · f(z0, θ, t_0) = −λ(t_N)·f(z(t_N), θ, t_N) − ∫_{t_N}^{t_0} λ ∂f/∂t dt
      (with the jumps), where λ(t_0⁺) excludes ∂L/∂z(t_0). The comment under the post writes
      dL/dt0 = dL/dt_N + ∫_{t_N}^{t_0} λ ∂f/∂t dt, which is the negative of this: it equals λ(t0)·f.
    If `record` is a list, the backward trajectory is appended to it as (t, z, λ, a_θ, a_t)
    tuples (a_θ flat): one per RK4 step, plus one after each jump of λ at an observation time.

    checkpoints=None integrates z backwards with λ ("backsolve"): no memory, but for strongly
    contracting dynamics the backward z drifts off the forward one like e^{kT} and the gradient
    is wrong. So at every observation time the backward z is compared with the stored forward z
    (free: both are at hand), and an `AdjointDriftWarning` is issued when the relative drift exceeds
    both `drift_threshold` and, measured only then, `step_doubling_threshold`. checkpoints=K instead
    re-integrates z forwards from K checkpoints per observation interval (memory O(K + n_steps/K); see
    `_checkpointed`); checkpoints="auto" runs the backsolve and, if it drifted, runs again with
    K = ⌈√n_steps⌉ and says so.
    If `drift` is a list, (t_i, relative drift, threshold) is appended for every interval (backsolve only).
    running_loss=g adds ∫_{t0}^{t_N} g(z, θ, t) dt to the loss: ∂g/∂z, ∂g/∂θ, ∂g/∂t join the right-hand
    sides (`with_running_cost`), and dL/dt_N gains g(z(t_N), θ, t_N); then dL/dt0 = −λ(t0⁺)·f − g(z0, θ, t0).
    """
    if checkpoints == "auto":
        steps = None if record is None else []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AdjointDriftWarning)
            result = adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs, steps, None, drift, running_loss)
        if not any(issubclass(w.category, AdjointDriftWarning) for w in caught):
            if record is not None:
                record.extend(steps)
            return result
        k, first = auto_checkpoints(n_steps), caught[0].message
        warnings.warn(AdjointDriftWarning(first.t, first.drift, first.threshold, rerun=k), stacklevel=3)
        return adjoint_gradients(f, zs, theta, ts, n_steps, dL_dzs, record, k, running_loss=running_loss)
    def interval(i, s, rate, steps):
        if checkpoints is not None:
            return _checkpointed(f, zs[i - 1], zs[i], s, theta, ts[i], ts[i - 1], n_steps, steps, checkpoints,
                                 running_loss)
        s, z_back = _backsolve(f, zs[i - 1], zs[i], s, theta, ts[i], ts[i - 1], n_steps, steps, running_loss)
        h = (ts[i] - ts[i - 1]) / n_steps
        gap = relative_drift(z_back, zs[i - 1])
        threshold = max(drift_threshold(zs[i], rate(i), h), drift_threshold(zs[i - 1], rate(i - 1), h))
        if gap > threshold:  # measure RK4's own error before saying anything
            threshold = max(threshold, step_doubling_threshold(
                f, theta, ((zs[i - 1], ts[i - 1]), (zs[i], ts[i])), h, n_steps))
        _check_drift(gap, ts[i - 1], threshold, drift)
        return s

    return backward_sweep(f, zs, theta, ts, dL_dzs, interval, running_loss, record)


def backward_sweep(f, zs, theta, ts, dL_dzs, interval, running_loss=None, record=None):
    """What every continuous adjoint shares, whatever carries it across an interval: dL/dz0, dL/dθ (flat), dL/dts.

    The state s = [λ, a_θ, a_t] starts at t_N as λ = ∂L/∂z(t_N), a_θ = 0, a_t = −dL/dt_N. Interval by
    interval from the last, interval(i, s, rate, steps) carries it from t_i back to t_{i−1}⁺ (eqs. 11–12;
    rate(j) = f(zs[j], θ, ts[j]), evaluated once per observation time; steps: the record or None).
    At t_{i−1} λ jumps by ∂L/∂z(t_{i−1}), and a_t, for i − 1 ≥ 1, by −dL/dt_{i−1} = −∂L/∂z(t_{i−1})·f.
    With a running cost g, dL/dt_N gains g(z(t_N), θ, t_N). `record` as in `adjoint_gradients`.
    """
    n, rates = zs[0].size, {}

    def rate(j):
        if j not in rates:
            rates[j] = f(zs[j], theta, ts[j])
        return rates[j]

    dL_dts = np.zeros(len(ts))
    dL_dts[-1] = np.vdot(dL_dzs[-1], rate(len(ts) - 1))
    if running_loss is not None:  # the upper limit of ∫ g dt moves with t_N
        dL_dts[-1] += np.sum(running_loss(zs[-1], theta, ts[-1]))
    s = np.concatenate([np.ravel(dL_dzs[-1]), np.zeros(tree.size(theta)), [-dL_dts[-1]]])  # λ(t_N), a_θ, a_t
    steps = None if record is None else [(ts[-1], zs[-1], s)]
    for i in range(len(ts) - 1, 0, -1):
        s = interval(i, s, rate, steps).copy()
        rates.pop(i, None)
        if i - 1 > 0:  # the jump of a_t at an intermediate observation time
            dL_dts[i - 1] = np.vdot(dL_dzs[i - 1], rate(i - 1))
            s[-1] -= dL_dts[i - 1]
        s[:n] += np.ravel(dL_dzs[i - 1])  # the jump of λ: λ(t_i⁻) = λ(t_i⁺) + ∂L/∂z(t_i)
        if steps is not None:
            steps.append((ts[i - 1], zs[i - 1], s))
    if record is not None:
        record.extend((t, z, state[:n].reshape(zs[0].shape), state[n:-1], state[-1]) for t, z, state in steps)
    dL_dts[0] = s[-1]
    return s[:n].reshape(zs[0].shape), s[n:-1], dL_dts


def _check_drift(gap, t, threshold, drift):
    """Record the relative drift `gap` of the backward z at time t and warn if it exceeds `threshold`."""
    if drift is not None:
        drift.append((float(t), gap, threshold))
    if not gap <= threshold:
        warnings.warn(AdjointDriftWarning(float(t), gap, threshold), stacklevel=6)  # the caller of gradients


def solve(f, z0, theta, ts, n_steps, checkpoints=None, drift=None):
    """The gradient method "adjoint": zs by RK4 (eq. 3) and a pullback ∂L/∂zs ↦ (dL/dz0, dL/dθ flat,
    dL/dts) that solves eqs. (11)–(12) backwards (`adjoint_gradients`, which fills the list `drift`)."""
    check_checkpoint_memory(z0, n_steps, checkpoints)
    zs = integrate(f, z0, theta, ts, n_steps)
    return zs, functools.partial(adjoint_gradients, f, zs, theta, ts, n_steps, checkpoints=checkpoints, drift=drift)
