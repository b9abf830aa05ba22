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
import numbers
from collections import namedtuple

import numpy as np
from autograd import make_vjp

from . import tree
from .adaptive import Adaptive, Replay, counting, integrate, solve_interval
from .adjoint import augmented_dynamics
from .finite_differences import fd_vjp
from .tree import ravel_tree, unravel_like

RTOL, ATOL = 1e-7, 1e-9  # the defaults of torchdiffeq's odeint

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


def positive_float(value, name):
    """`value` as a float if it is a positive, finite real number (not a bool), else an error naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number, got {value}")
    return float(value)


def _report(stats, which, steps):
    if stats is not None:
        stats[which] = dict(steps.stats)


def adjoint_gradients(f, zs, theta, ts, dL_dzs, tol, stats=None):
    """Eqs. (11)–(12) by adaptive Dormand–Prince steps from ts[-1] back to ts[0]: dL/dz0, dL/dθ (flat), dL/dts.

    On each interval, from t_i back to t_{i−1}, the augmented state s = [z, λ, a_θ, a_t] starts from the
    stored forward z(t_i) and follows ds/dt = [f, −λ ∂f/∂z, −λ ∂f/∂θ, −λ ∂f/∂t]
    (`adjoint.augmented_dynamics`). At each observation time λ jumps by ∂L/∂z(t_i) and a_t by
    −∂L/∂z(t_i)·f(z(t_i), θ, t_i), which is dL/dt_i (the conventions of `adjoint.adjoint_gradients`).
    The step sizes carry over from one interval to the next; the error is measured on all of s, or on
    [z, λ] only when tol.seminorm.
    """
    n = zs[0].size
    steps = Adaptive(tol.adjoint_rtol, tol.adjoint_atol, 2 * n if tol.seminorm else None, "backward")
    ds_dt = counting(augmented_dynamics(f, zs[0].shape), steps.stats)
    dL_dts = np.zeros(len(ts))
    dL_dts[-1] = np.vdot(dL_dzs[-1], f(zs[-1], theta, ts[-1]))
    s = np.concatenate([np.ravel(dL_dzs[-1]), np.zeros(tree.size(theta)), [-dL_dts[-1]]])  # λ(t_N), a_θ, a_t
    for i in range(len(ts) - 1, 0, -1):
        end, _ = solve_interval(ds_dt, np.concatenate([np.ravel(zs[i]), s]), theta, ts[i], ts[i - 1], steps)
        s = end[n:].copy()
        if i - 1 > 0:  # the jump of a_t at an intermediate observation time
            dL_dts[i - 1] = np.vdot(dL_dzs[i - 1], f(zs[i - 1], theta, ts[i - 1]))
            s[-1] -= dL_dts[i - 1]
        s[:n] += np.ravel(dL_dzs[i - 1])  # the jump of λ: λ(t_i⁻) = λ(t_i⁺) + ∂L/∂z(t_i)
    _report(stats, "backward", steps)
    dL_dts[0] = s[-1]
    return s[:n].reshape(zs[0].shape), s[n:-1], dL_dts


def forward(f, z0, theta, ts, tol, stats=None):
    """(zs, the Adaptive controller that chose the steps): the adaptive forward solve, eq. (3)."""
    steps = Adaptive(tol.rtol, tol.atol)
    zs = integrate(f, z0, theta, ts, steps)
    _report(stats, "forward", steps)
    return zs, steps


def adjoint(f, z0, theta, ts, tol, stats=None):
    """The gradient method "adjoint" with dopri5: the adaptive forward solve and `adjoint_gradients`."""
    zs, _ = forward(f, z0, theta, ts, tol, stats)
    return zs, lambda dL_dzs: adjoint_gradients(f, zs, theta, ts, dL_dzs, tol, stats)


def backprop(f, z0, theta, ts, tol, stats=None):
    """The gradient method "backprop" with dopri5: autograd records the adaptive forward solve and
    reverses its accepted steps, with their sizes held fixed (module docstring)."""
    steps = Adaptive(tol.rtol, tol.atol)
    vjp, zs = make_vjp(integrate, argnum=(1, 2, 3))(f, z0, theta, ts, steps)
    _report(stats, "forward", steps)

    def pullback(dL_dzs):
        g_z0, g_theta, g_ts = vjp(dL_dzs)
        return g_z0, ravel_tree(g_theta), g_ts

    return zs, pullback


def finite_differences(f, z0, theta, ts, tol, stats=None):
    """The gradient method "finite_differences" with dopri5: central differences of the forward solve
    with its accepted steps replayed (module docstring); 2 replays per entry of z0, θ and ts."""
    zs, steps = forward(f, z0, theta, ts, tol, stats)

    def replay(z0, theta, ts):
        return integrate(f, z0, theta, ts, Replay(steps.fractions))

    def pullback(dL_dzs):
        g_z0 = fd_vjp(lambda x: replay(x.reshape(z0.shape), theta, ts), np.ravel(z0), dL_dzs)
        g_theta = fd_vjp(lambda x: replay(z0, unravel_like(x, theta), ts), ravel_tree(theta), dL_dzs)
        g_ts = fd_vjp(lambda x: replay(z0, theta, x), ts.copy(), dL_dzs)
        return g_z0.reshape(z0.shape), g_theta, g_ts

    return zs, pullback


METHODS = {"adjoint": adjoint, "backprop": backprop, "finite_differences": finite_differences}
