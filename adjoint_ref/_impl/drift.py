"""Is the adjoint's backward z still on the forward z? The drift checks of the continuous adjoint.

Integrated backwards, z can leave the forward solution (round-off grows like e^{kT} for contracting
dynamics), and then λ and the gradient are wrong. At every observation time both are at hand, so the
relative drift ‖z_back − z‖ / ‖z‖ is free to measure; these functions say how much of it a sound solve
can show and warn (`AdjointDriftWarning`) beyond that. The warning names the line of the user's code
that entered the package (`warn`), whichever path (gradients, odeint under autograd) led here.
"""
import os
import sys
import warnings
from collections import namedtuple

import numpy as np

from ..rk4 import rk4_step


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


Drift = namedtuple("Drift", ["t", "drift", "threshold"])
Drift.__doc__ = """One drift check at an observation time t: the relative drift and the threshold it was held to."""

DRIFT_FLOOR = 1e-10  # round-off: a few hundred operations on float64, relative to ‖z‖
DRIFT_MARGIN = 4.0  # over n · (one step's error): the round trip (2) and some growth of the error (2)
DRIFT_FACTOR = 1000.0  # dopri5: backward z further than this many tolerances from the forward z: warn
BLOW_UP = 100.0  # dopri5: backward z larger than this many times the largest forward state: stop
DOPRI5_REMEDY = ("use method='backprop', or solver='rk4' with checkpoints=K (tighter adjoint_rtol and "
                 "adjoint_atol help only while the drift is moderate)")


def relative_drift(z_back, z):
    """‖z_back − z‖ / ‖z‖: how far the backward pass's z ended from the stored forward z (the gap itself
    when z = 0). Not `metrics.relative_difference`, whose max(‖z_back‖, ‖z‖) would cap a backward z that
    blew up at a drift of about 1: here the size of the blow-up is what the warning reports."""
    scale = float(np.linalg.norm(z))
    gap = float(np.linalg.norm(np.ravel(z_back) - np.ravel(z)))
    return gap / scale if scale > 0 else gap


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


def rk4_drift(f, theta, ends, rates, z_back, n_steps):
    """(relative drift, threshold) of the RK4 backward z at the start of an interval, with a warning if
    the drift exceeds both `drift_threshold` and, measured only then, `step_doubling_threshold`.

    ends = ((z(t_start), t_start), (z(t_end), t_end)) are the stored forward states, rates their f."""
    (z_start, t_start), (z_end, t_end) = ends
    h = (t_end - t_start) / n_steps
    gap = relative_drift(z_back, z_start)
    threshold = max(drift_threshold(z_end, rates[1], h), drift_threshold(z_start, rates[0], h))
    if gap > threshold:  # measure RK4's own error before saying anything
        threshold = max(threshold, step_doubling_threshold(f, theta, ends, h, n_steps))
    if not gap <= threshold:
        warn(AdjointDriftWarning(float(t_start), gap, threshold))
    return Drift(float(t_start), gap, threshold)


def adaptive_drift(z_back, z, t, tol):
    """Warn (AdjointDriftWarning) if dopri5's backward z ended farther from the stored forward z at time t
    than DRIFT_FACTOR·(rtol + atol/‖z‖), with the looser of the forward and adjoint tolerances.

    A sound backward solve ends within tens of tolerances of the forward z (observed, rtol = atol from
    1e-3 to 1e-9: below 3 on the default problem, up to 44 on the damped pendulum over one interval of
    length 15, 132 on an oscillator over 48 periods). Dynamics that contract forwards amplify the error
    backwards: on the default MLP over one interval of length 10 the drift reached 300–400 tolerances
    (not flagged) with an adjoint gradient 20–30 times less accurate than backprop's, and 2000 (flagged)
    with one 50 times less accurate.
    """
    scale = max(float(np.linalg.norm(z)), 1e-300)
    threshold = max(DRIFT_FACTOR * (max(tol.rtol, tol.adjoint_rtol) + max(tol.atol, tol.adjoint_atol) / scale),
                    DRIFT_FLOOR)
    gap = relative_drift(z_back, z)
    if not gap <= threshold:
        warn(AdjointDriftWarning(float(t), gap, threshold, allows=f"{DRIFT_FACTOR:g} times the tolerances",
                                 remedy="the gradient may be wrong: " + DOPRI5_REMEDY))
    return Drift(float(t), gap, threshold)


def blow_up_guard(zs, z_of):
    """watch(s, t) for dopri5's backward controller: a FloatingPointError as soon as the backward z
    (z_of(s)) grows past BLOW_UP times the largest stored forward state."""
    limit = BLOW_UP * max(float(np.linalg.norm(z)) for z in zs) or np.inf  # no scale if every z is 0

    def watch(s, t):
        size = float(np.linalg.norm(z_of(s)))
        if not size <= limit:
            raise FloatingPointError(f"the adjoint's backward z grew to ‖z‖ = {size:.3g} at t={t:.6g}, more than "
                                     f"{BLOW_UP:g} times the largest forward state: integrated backwards it left "
                                     f"the forward solution. Instead, {DOPRI5_REMEDY}.")

    return watch


OUR_PACKAGES = tuple(os.path.dirname(module.__file__) + os.sep
                     for module in (sys.modules[__name__.split(".")[0]], __import__("autograd")))


def warn(warning):
    """Issue `warning` against the first frame outside adjoint_ref and autograd: the user's line that
    called `gradients`, `odeint`, `autograd.grad(...)(…)` or any other entry of the package."""
    frame, level = sys._getframe(0), 1  # stacklevel 1 is this function
    while frame is not None and frame.f_code.co_filename.startswith(OUR_PACKAGES):
        frame, level = frame.f_back, level + 1
    warnings.warn(warning, stacklevel=level)
