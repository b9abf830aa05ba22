"""The gradient methods, in one table per solver: `METHODS` (RK4), `DOPRI5_METHODS` (adaptive) and
`REVERSIBLE_METHODS` (reversible Heun, `reversible`).

Every method has the same signature, that of autograd's `make_vjp`:

    zs, pullback = METHODS[name](f, z0, theta, ts, n_steps, **options)
    zs, pullback = DOPRI5_METHODS[name](f, z0, theta, ts, tolerances, stats=None)
    dL_dz0, dL_dtheta_flat, dL_dts = pullback(dL_dzs)

zs = z(ts[i]) from the forward pass (eq. 3), and pullback turns ∂L/∂zs into the gradients, dL/dθ as
one flat vector in `tree.ravel_tree` order. `gradients`, `check`, `equations` and `bench` all go
through these tables; a new method is one more entry.

With solver="dopri5" (`adaptive`: Dormand–Prince steps chosen by tolerances, `validate.Tolerances`):
- "adjoint": the same backward loop as with RK4 (`adjoint.adjoint_gradients`), each interval crossed by
  adaptive steps of its own (tolerances adjoint_rtol, adjoint_atol). It differentiates the exact flow,
  not the computed zs: its error is set by the tolerances of both passes, and it differs from backprop
  by about that much. seminorm=True measures the backward error on [z, λ] only, not on the integrals
  a_θ and a_t, which feed nothing back into the dynamics (Kidger, Chen & Lyons 2021, "'Hey, that's not
  an ODE': faster ODE adjoints via seminorms"): fewer backward steps for about the same gradient.
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

import numpy as np
from autograd import make_vjp

from . import adaptive, adjoint, discrete_adjoint, finite_differences, reversible, rk4, sensitivity
from ._impl.memory import check_backprop_memory
from ._impl.tree import ravel_tree


def backprop(f, z0, theta, ts, n_steps):
    """The gradient method "backprop": autograd records every RK4 stage of the forward pass and
    reverses the recording (memory grows with n_steps; guarded by `memory.check_backprop_memory`)."""
    check_backprop_memory(f, z0, theta, ts, n_steps)
    return recorded(rk4.integrate, f, z0, theta, ts, n_steps)


def recorded(integrate, f, z0, theta, ts, grid):
    """(zs, pullback) of zs = integrate(f, z0, θ, ts, grid), recorded by autograd: the pullback reverses
    the recording and returns (dL/dz0, dL/dθ flat, dL/dts). Backprop for any solver."""
    vjp, zs = make_vjp(integrate, argnum=(1, 2, 3))(f, z0, theta, ts, grid)

    def pullback(dL_dzs):
        with np.errstate(over="ignore", invalid="ignore"):  # rk4.finite_state reports it, with the time
            g_z0, g_theta, g_ts = vjp(dL_dzs)
        return g_z0, ravel_tree(g_theta), g_ts

    return zs, pullback


METHODS = {
    "adjoint": adjoint.solve,  # eqs. (11)–(12) backwards in time; options: checkpoints=K
    "backprop": backprop,
    "finite_differences": finite_differences.solve,
    "forward_sensitivity": sensitivity.solve,
    "discrete_adjoint": discrete_adjoint.solve,
}


def adaptive_forward(f, z0, theta, ts, tol, stats=None):
    """(zs, the Adaptive controller that chose the steps): dopri5's forward solve, eq. (3)."""
    controller = adaptive.Adaptive(tol.rtol, tol.atol)
    zs = adaptive.adaptive_integrate(f, z0, theta, ts, controller)
    _report(stats, "forward", controller)
    return zs, controller


def _report(stats, which, controller):
    if stats is not None:
        stats[which] = dict(controller.stats)


def adaptive_adjoint(f, z0, theta, ts, tol, stats=None, trace=False):
    """The gradient method "adjoint" with dopri5: the adaptive forward solve and `adjoint.adjoint_gradients`
    with adaptive backward controller (module docstring); with trace=True its pullback returns a `Backward`."""
    zs, _ = adaptive_forward(f, z0, theta, ts, tol, stats)
    return zs, functools.partial(adjoint.adjoint_gradients, f, zs, theta, ts, tol, stats=stats, trace=trace)


def adaptive_backprop(f, z0, theta, ts, tol, stats=None):
    """The gradient method "backprop" with dopri5: autograd records the adaptive forward solve and
    reverses its accepted steps, with their sizes held fixed (module docstring)."""
    controller = adaptive.Adaptive(tol.rtol, tol.atol)
    zs, pullback = recorded(adaptive.adaptive_integrate, f, z0, theta, ts, controller)
    _report(stats, "forward", controller)
    return zs, pullback


def adaptive_finite_differences(f, z0, theta, ts, tol, stats=None):
    """The gradient method "finite_differences" with dopri5: central differences of the forward solve
    with its accepted steps replayed (module docstring); 2 replays per entry of z0, θ and ts."""
    zs, controller = adaptive_forward(f, z0, theta, ts, tol, stats)

    def replay(z0, theta, ts):
        return adaptive.adaptive_integrate(f, z0, theta, ts, adaptive.Replay(controller.fractions))

    return zs, finite_differences.pullback_of(replay, z0, theta, ts)


DOPRI5_METHODS = {"adjoint": adaptive_adjoint, "backprop": adaptive_backprop,
                  "finite_differences": adaptive_finite_differences}
def reversible_adjoint(f, z0, theta, ts, n_steps):
    """The gradient method "adjoint" with reversible Heun: the forward pass (RH1) of `reversible`, keeping only zs and
    the final state, and `reversible.adjoint_gradients`."""
    zs, final = reversible.solve(f, z0, theta, ts, n_steps)
    return zs, lambda dL_dzs: reversible.adjoint_gradients(f, zs, final, theta, ts, n_steps, dL_dzs)


def reversible_backprop(f, z0, theta, ts, n_steps):
    """The gradient method "backprop" with reversible Heun: autograd records the steps (RH1) and reverses
    them (memory grows with n_steps; guarded by `memory.check_backprop_memory`, whose estimate for an RK4
    step, four evaluations of f, is an upper bound for this one-evaluation step)."""
    check_backprop_memory(f, z0, theta, ts, n_steps)
    return recorded(reversible.integrate, f, z0, theta, ts, n_steps)


def reversible_finite_differences(f, z0, theta, ts, n_steps):
    """The gradient method "finite_differences" with reversible Heun: central differences of the forward
    pass (`finite_differences.pullback_of`)."""
    def forward(z0, theta, ts):
        return reversible.integrate(f, z0, theta, ts, n_steps)

    return forward(z0, theta, ts), finite_differences.pullback_of(forward, z0, theta, ts)


REVERSIBLE_METHODS = {"adjoint": reversible_adjoint, "backprop": reversible_backprop,
                      "finite_differences": reversible_finite_differences}


SOLVERS = {"rk4": METHODS, "dopri5": DOPRI5_METHODS,  # each solver's table of gradient methods
           "reversible_heun": REVERSIBLE_METHODS}
