"""The adaptive Dormand–Prince 5(4) integrator: steps chosen by an error estimate, not fixed in advance.

Each step of `tableau.DOPRI5` gives z_new (order 5) and an estimate of its local error (z_new minus the
embedded order-4 solution). The step is accepted when the RMS norm of that error, measured against
atol + rtol·max(|z|, |z_new|) component by component, is at most 1; either way the next step size is
h·SAFETY·ratio^(−1/5), clamped to [MIN_FACTOR, MAX_FACTOR] (and not enlarged right after a
rejection). This is the standard controller of Hairer, Nørsett & Wanner, Solving Ordinary
Differential Equations I, section II.4, also used by scipy's RK45 and torchdiffeq's dopri5.

The solver steps to every observation time: a step that would pass it (or stop within 1 % of a step
short of it, as in Hairer's code) is clipped to end there. A step is taken as a *fraction* of its
observation interval, so the accepted steps can be replayed (`Replay`) on the same or on perturbed
observation times. The first step size comes from Hairer's heuristic (`initial_step`); later
intervals continue with the controller's proposal.

Written with `autograd.numpy`, the integration is differentiable by autograd. The controller itself
reads plain values (autograd's `getval`), so backpropagation sees the accepted steps with their sizes
held fixed, as fractions of each interval — the convention torchdiffeq's backprop uses too.
"""
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .rk4 import finite_state
from .tableau import DOPRI5, rk_step
from ._impl.metrics import rms
from ._impl.tree import values

SAFETY = 0.9  # aim the next step at 0.9^5 ≈ 0.6 of the tolerance, so that it is rarely rejected
MIN_FACTOR, MAX_FACTOR = 0.2, 10.0  # the most a step size may shrink or grow from one step to the next
STRETCH = 1.01  # a step stopping within 1 % of itself short of an observation time is stretched to reach it
MAX_STEPS = 100_000  # step attempts in one integration before giving up (stiff dynamics, tolerances too tight)


def error_ratio(z, z_new, error, rtol, atol):
    """‖error / (atol + rtol·max(|z|, |z_new|))‖_RMS: the step is accepted when this is ≤ 1."""
    return rms(error / (atol + rtol * np.maximum(np.abs(z), np.abs(z_new))))


def step_factor(ratio, order):
    """SAFETY·ratio^(−1/(order+1)), clamped to [MIN_FACTOR, MAX_FACTOR]: the change of h that brings the
    next error ratio to about SAFETY^(order+1) (the local error of the order-`order` estimate is O(h^(order+1)))."""
    if not np.isfinite(ratio):
        return MIN_FACTOR
    if ratio == 0:
        return MAX_FACTOR
    return float(np.clip(SAFETY * ratio ** (-1.0 / (order + 1)), MIN_FACTOR, MAX_FACTOR))


def initial_step(f, z, theta, t, direction, f0, rtol, atol, order, controlled):
    """Hairer's starting step size (Solving ODEs I, II.4): |h| from the sizes of z, f and f's change.

    With sc = atol + rtol·|z|: d0 = ‖z/sc‖, d1 = ‖f0/sc‖, h0 = 0.01·d0/d1 (1e-6 if either is tiny);
    one Euler step of h0 gives d2 = ‖(f(z + h0 f0) − f0)/sc‖ / h0; then
    h = min(100·h0, (0.01 / max(d1, d2))^(1/(order+1))). Norms are RMS over the `controlled` entries.
    """
    scale = (atol + rtol * np.abs(z)).ravel()[controlled]
    d0, d1 = rms(z.ravel()[controlled] / scale), rms(f0.ravel()[controlled] / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = getval(f(z + direction * h0 * f0, theta, t + direction * h0))
    d2 = rms((f1 - f0).ravel()[controlled] / scale) / h0
    if max(d1, d2) <= 1e-15:
        return max(1e-6, h0 * 1e-3)
    return min(100 * h0, (0.01 / max(d1, d2)) ** (1.0 / (order + 1)))


class Adaptive:
    """The step-size controller (module docstring). It records the accepted steps of each observation
    interval as fractions of it (`fractions`, for `Replay`) and counts accepted and rejected steps and
    f evaluations in `stats`. `controlled = m` measures the error on the first m entries of the flat
    state only (a seminorm); None measures it on all. `which` names the pass in error messages.
    `watch(z, t)`, if given, is called with every accepted state and its time (it may raise)."""

    def __init__(self, rtol, atol, controlled=None, which="forward", watch=None):
        self.rtol, self.atol, self.which, self.watch = rtol, atol, which, watch
        self.controlled = slice(controlled)
        self.h = None  # the next |h| to try; None until the first interval begins
        self.after_rejection = self.clipped = False
        self.fractions = []
        self.stats = {"accepted": 0, "rejected": 0, "f_evals": 0}

    def begin(self, f, z, theta, t, span, f0):
        """Start an observation interval of signed length `span` at (z, t) with f0 = f(z, θ, t)."""
        self.fractions.append([])
        if self.h is None:
            self.h = initial_step(f, z, values(theta), t, np.sign(span), f0, self.rtol, self.atol,
                                  DOPRI5.embedded_order, self.controlled)

    def propose(self, remaining, span):
        """(the next step as a fraction of the interval, whether it ends the interval); `remaining` is
        the fraction still to go."""
        fraction = self.h / abs(span)
        self.clipped = STRETCH * fraction >= remaining
        return (remaining, True) if self.clipped else (fraction, False)

    def judge(self, z, z_new, error, fraction, span, t):
        """Accept or reject the step from (z, t) to z_new with this error estimate; set the next |h|."""
        self._check_limits(t)
        c = self.controlled
        ratio = error_ratio(z.ravel()[c], z_new.ravel()[c], error.ravel()[c], self.rtol, self.atol)
        accepted = ratio <= 1.0
        factor = step_factor(ratio, DOPRI5.embedded_order)
        h = fraction * abs(span)
        if self.after_rejection or not accepted:
            factor = min(factor, 1.0)
        if accepted:
            self.fractions[-1].append(fraction)
            if self.watch is not None:
                self.watch(z_new, t + fraction * span)
        # A step clipped to end at an observation time does not shrink the proposal for the next one.
        self.h = max(h * factor, self.h) if accepted and self.clipped else h * factor
        self.after_rejection = not accepted
        self.stats["accepted" if accepted else "rejected"] += 1
        return accepted

    def _check_limits(self, t):
        attempts = self.stats["accepted"] + self.stats["rejected"]
        if attempts >= MAX_STEPS:
            raise RuntimeError(f"dopri5 gave up after {MAX_STEPS} steps in the {self.which} pass at t={t:.6g}: "
                               f"the dynamics may be stiff, or rtol={self.rtol:g} and atol={self.atol:g} too "
                               "tight for them. Loosen rtol/atol, or use solver='rk4' with n_steps.")
        if self.h <= 10 * np.finfo(np.float64).eps * max(abs(t), 1.0):
            raise FloatingPointError(f"dopri5's step size fell to {self.h:.3g} at t={t:.6g} during the "
                                     f"{self.which} pass (rtol={self.rtol:g}, atol={self.atol:g}): the "
                                     "solution is probably blowing up or not smooth there")


class Replay:
    """The accepted steps of an earlier `Adaptive` run (its `fractions`), taken again without error
    control: the same step sequence, as fractions of each interval, on the same or perturbed inputs."""

    def __init__(self, fractions):
        self.intervals = iter(fractions)
        self.stats = {"accepted": 0, "rejected": 0, "f_evals": 0}
        self.which = "forward"

    def begin(self, f, z, theta, t, span, f0):
        """Start the next interval's recorded steps."""
        self.steps = list(next(self.intervals))

    def propose(self, remaining, span):
        """The next recorded fraction, and whether it is the interval's last."""
        return self.steps.pop(0), not self.steps

    def judge(self, z, z_new, error, fraction, span, t):
        """Every replayed step is accepted."""
        self.stats["accepted"] += 1
        return True


def counting(f, stats):
    """f that adds one to stats["f_evals"] per evaluation."""
    def counted_f(z, theta, t):
        stats["f_evals"] += 1
        return f(z, theta, t)
    return counted_f


def adaptive_interval(f, z, theta, t_start, t_end, controller, k1=None):
    """z(t_end) from z = z(t_start) by the Dormand–Prince steps that `controller` (Adaptive or Replay) chooses.

    Returns (z(t_end), f at z(t_end)) — the last stage, which is the first of the next interval's
    first step (FSAL); pass it as k1 when z continues unchanged from t_end. A step from t = t_start +
    done·span covers fraction·span, where span = t_end − t_start carries autograd's trace of the times.
    """
    span = t_end - t_start
    span_value = float(getval(span))
    if k1 is None:
        k1 = f(z, theta, t_start)
    controller.begin(f, getval(z), theta, float(getval(t_start)), span_value, getval(k1))
    done = 0.0
    while True:
        fraction, last = controller.propose(1.0 - done, span_value)
        t = t_start + done * span
        z_new, error, stages = rk_step(DOPRI5, f, z, theta, t, fraction * span, k1)
        if controller.judge(getval(z), getval(z_new), getval(error), fraction, span_value, float(getval(t))):
            z, k1 = finite_state(z_new, getval(t + fraction * span), controller.which), stages[-1]
            if last:
                return z, k1
            done += fraction


def adaptive_integrate(f, z0, theta, ts, controller):
    """Eq. (3) at every observation time by Dormand–Prince: zs[i] = z(ts[i]), zs[0] = z0.

    `controller` is an `Adaptive` controller (whose `fractions` and `stats` are filled in) or a `Replay`.
    Returns an array of shape (len(ts),) + z0.shape, differentiable by autograd through the accepted
    steps (their sizes held fixed as fractions of each interval; see the module docstring).
    """
    f = counting(f, controller.stats)
    zs, k1 = [z0], None
    for t_start, t_end in zip(ts[:-1], ts[1:]):
        z, k1 = adaptive_interval(f, zs[-1], theta, t_start, t_end, controller, k1)
        zs.append(z)
    return anp.stack(zs)
