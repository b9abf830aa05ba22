"""The gradient methods with the adaptive Dormand–Prince solver (`solver="dopri5"`), in a table like
`methods.METHODS`:

    zs, pullback = METHODS[name](f, z0, theta, ts, tolerances, stats=None)

- "adjoint": eqs. (11)–(12) for s = [z, λ, a_θ, a_t] solved backwards with their own adaptive steps
  (tolerances adjoint_rtol, adjoint_atol), λ and a_t jumping at the observation times as in
  `adjoint.adjoint_gradients`. It differentiates the exact flow, not the computed zs: its error is
  set by the tolerances of both passes, and it differs from backprop by about that much.
  seminorm=True measures the backward error on [z, λ] only, not on the integrals a_θ and a_t, which
  feed nothing back into the dynamics (Kidger, Chen & Lyons 2021, "'Hey, that's not an ODE': faster
  ODE adjoints via seminorms"): fewer backward steps for about the same gradient.
- "backprop": autograd through the accepted forward steps, their sizes held fixed as fractions of
  each observation interval (`adaptive`); the controller's choice of step sizes is not differentiated,
  as in torchdiffeq. It is the exact derivative of that fixed-step computation.
- "finite_differences": central differences of the forward solve with the accepted steps replayed
  (`adaptive.Replay`): the same computation backprop differentiates, so the two agree to the
  finite-difference error. Re-running the controller on each perturbed input instead would let the
  step sizes move with the input (a term backprop leaves out) and, wherever a perturbation adds a
  step or a rejection, make the result jump by about the tolerance, which divided by the
  finite-difference step (~6e-6 relative) swamps the gradient.

`stats`, a dict, receives the counts {"accepted", "rejected", "f_evals"} of the forward solve under
"forward", and for the adjoint those of the backward solve under "backward" (there f_evals counts
evaluations of the augmented dynamics: one f and one vector–Jacobian product each).
"""
import functools
import warnings
from collections import namedtuple

import numpy as np

from .adaptive import Adaptive, Replay, counting, integrate, solve_interval
from .adjoint import DRIFT_FLOOR, AdjointDriftWarning, augmented_dynamics, backward_sweep, relative_drift
from .finite_differences import pullback_of as finite_differences_of
from .methods import recorded
from ._impl.validate import positive_number as positive_float

RTOL, ATOL = 1e-7, 1e-9  # the defaults of torchdiffeq's odeint
DRIFT_FACTOR = 1000.0  # backward z further than this many tolerances from the forward z: warn (`check_drift`)
BLOW_UP = 100.0  # backward z larger than this many times the largest forward state: stop (`blow_up_guard`)
DRIFT_REMEDY = ("use method='backprop', or solver='rk4' with checkpoints=K (tighter adjoint_rtol and "
                "adjoint_atol help only while the drift is moderate)")

Tolerances = namedtuple("Tolerances", ["rtol", "atol", "adjoint_rtol", "adjoint_atol", "seminorm"])
Tolerances.__doc__ = """The error tolerances of the forward solve and of the adjoint's backward solve, and
whether the backward error norm leaves out a_θ and a_t (seminorm)."""


def tolerances(method, rtol=None, atol=None, adjoint_rtol=None, adjoint_atol=None, seminorm=False):
    """Validated Tolerances for gradient method `method`: rtol, atol default to RTOL, ATOL and the
    adjoint's to the forward ones; adjoint_rtol, adjoint_atol and seminorm apply to the adjoint only."""
    if method != "adjoint":
        for name, value in (("adjoint_rtol", adjoint_rtol), ("adjoint_atol", adjoint_atol), ("seminorm", seminorm)):
            if value is not None and value is not False:
                raise ValueError(f"{name} applies to method='adjoint' only, got method={method!r}")
    rtol = RTOL if rtol is None else positive_float(rtol, "rtol")
    atol = ATOL if atol is None else positive_float(atol, "atol")
    if not isinstance(seminorm, (bool, np.bool_)):
        raise TypeError(f"seminorm must be True or False, got {seminorm!r}")
    return Tolerances(rtol, atol, rtol if adjoint_rtol is None else positive_float(adjoint_rtol, "adjoint_rtol"),
                      atol if adjoint_atol is None else positive_float(adjoint_atol, "adjoint_atol"), bool(seminorm))


def _report(stats, which, steps):
    if stats is not None:
        stats[which] = dict(steps.stats)


def adjoint_gradients(f, zs, theta, ts, dL_dzs, tol, stats=None):
    """Eqs. (11)–(12) by adaptive Dormand–Prince steps from ts[-1] back to ts[0]: dL/dz0, dL/dθ (flat), dL/dts.

    On each interval, from t_i back to t_{i−1}, the augmented state s = [z, λ, a_θ, a_t] starts from the
    stored forward z(t_i) and follows ds/dt = [f, −λ ∂f/∂z, −λ ∂f/∂θ, −λ ∂f/∂t]
    (`adjoint.augmented_dynamics`); the jumps at the observation times are those of every continuous
    adjoint (`adjoint.backward_sweep`).
    The step sizes carry over from one interval to the next; the error is measured on all of s, or on
    [z, λ] only when tol.seminorm. At each observation time the backward z is compared with the stored
    forward z (`check_drift`, an AdjointDriftWarning), and a backward z that blows up stops the solve
    (`blow_up_guard`) rather than let the controller crawl on with ever smaller steps.
    """
    n = zs[0].size
    steps = Adaptive(tol.adjoint_rtol, tol.adjoint_atol, 2 * n if tol.seminorm else None, "backward",
                     watch=blow_up_guard(n, zs))
    ds_dt = counting(augmented_dynamics(f, zs[0].shape), steps.stats)

    def interval(i, s, rate, record):
        end, _ = solve_interval(ds_dt, np.concatenate([np.ravel(zs[i]), s]), theta, ts[i], ts[i - 1], steps)
        check_drift(end[:n], zs[i - 1], ts[i - 1], tol)
        return end[n:]

    gradients = backward_sweep(f, zs, theta, ts, dL_dzs, interval)
    _report(stats, "backward", steps)
    return gradients


def check_drift(z_back, z, t, tol):
    """Warn (AdjointDriftWarning) if the backward z ended farther from the stored forward z at time t
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
    drift = relative_drift(z_back, z)
    if not drift <= threshold:
        warnings.warn(AdjointDriftWarning(float(t), drift, threshold, allows=f"{DRIFT_FACTOR:g} times the tolerances",
                                          remedy="the gradient may be wrong: " + DRIFT_REMEDY), stacklevel=6)


def blow_up_guard(n, zs):
    """watch(s, t) for the backward Adaptive controller: a FloatingPointError as soon as the backward z
    (the first n entries of s) grows past BLOW_UP times the largest stored forward state."""
    limit = BLOW_UP * max(float(np.linalg.norm(z)) for z in zs) or np.inf  # no scale if every z is 0

    def watch(s, t):
        size = float(np.linalg.norm(s[:n]))
        if not size <= limit:
            raise FloatingPointError(f"the adjoint's backward z grew to ‖z‖ = {size:.3g} at t={t:.6g}, more than "
                                     f"{BLOW_UP:g} times the largest forward state: integrated backwards it left "
                                     f"the forward solution. Instead, {DRIFT_REMEDY}.")

    return watch


def forward(f, z0, theta, ts, tol, stats=None):
    """(zs, the Adaptive controller that chose the steps): the adaptive forward solve, eq. (3)."""
    steps = Adaptive(tol.rtol, tol.atol)
    zs = integrate(f, z0, theta, ts, steps)
    _report(stats, "forward", steps)
    return zs, steps


def adjoint(f, z0, theta, ts, tol, stats=None):
    """The gradient method "adjoint" with dopri5: the adaptive forward solve and `adjoint_gradients`."""
    zs, _ = forward(f, z0, theta, ts, tol, stats)
    return zs, functools.partial(adjoint_gradients, f, zs, theta, ts, tol=tol, stats=stats)


def backprop(f, z0, theta, ts, tol, stats=None):
    """The gradient method "backprop" with dopri5: autograd records the adaptive forward solve and
    reverses its accepted steps, with their sizes held fixed (module docstring)."""
    steps = Adaptive(tol.rtol, tol.atol)
    zs, pullback = recorded(integrate, f, z0, theta, ts, steps)
    _report(stats, "forward", steps)
    return zs, pullback


def finite_differences(f, z0, theta, ts, tol, stats=None):
    """The gradient method "finite_differences" with dopri5: central differences of the forward solve
    with its accepted steps replayed (module docstring); 2 replays per entry of z0, θ and ts."""
    zs, steps = forward(f, z0, theta, ts, tol, stats)

    def replay(z0, theta, ts):
        return integrate(f, z0, theta, ts, Replay(steps.fractions))

    return zs, finite_differences_of(replay, z0, theta, ts)


METHODS = {"adjoint": adjoint, "backprop": backprop, "finite_differences": finite_differences}
