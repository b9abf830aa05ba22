"""Exercise 7: the discrete adjoint — reverse mode through the RK4 steps themselves.

Graded against backprop (`gradients(method="backprop")`), which it must equal to round-off, while
the continuous adjoint of exercise 4 (`method="adjoint"`) differs from both by O(h⁴); the last case
checks that this gap falls like h⁴ as the steps shrink. The dynamics vary from case to case, a last
case repeats the first one's span with new values, and the learner's evaluations of f must be those
of the method: one pullback per step (at most one RK4 step's four evaluations of f in one make_vjp,
one evaluation at each of the n_steps steps' stage times), besides at most one forward solve.
`gradients` (method="backprop" is the answer) and the package's other gradient routes refuse to run
for the learner's code.
"""
import numpy as np
from autograd import make_vjp

from ..api import gradients
from .._impl.metrics import relative_difference
from ..rk4 import rk4_step
from ._common import (ARRAY_DYNAMICS, EXACT_TOL, SETTINGS, WRONG_SIGN, Case, Mistake, Wrong, call, describe,
                      expect_close, outputs, random_problem)
from ._guard import GRADIENT_ROUTES, Tally, audit_stages, float32_seen
from .ex4_backward_pass import end_loss

TITLE = "discrete adjoint vs continuous adjoint"
EQUATIONS = "eqs. (3), (11)–(12)"
SUMMARY = "pull λ back through each stored RK4 step: equals backprop exactly, unlike eqs. (11)–(12)"
FUNCTION = "discrete_adjoint"
SKELETON = '''import numpy as np
from autograd import make_vjp

from adjoint_ref.rk4 import rk4_step, solve_interval  # rk4_step(f, z, theta, t, h); see solve_interval's record


def discrete_adjoint(f, z0, theta, t0, t1, dL_dz1, n_steps):
    """dL/dz0 and dL/dθ of the discrete RK4 solution, for a loss L(z(t1)) with ∂L/∂z(t1) = dL_dz1.

    The forward solve takes n_steps equal RK4 steps from t0 to t1 (t1 < t0 is allowed) starting
    at z0 (one state (D,) or a batch (B, D)); theta is one array. Keep the state at the start of
    every step, then go through the steps in reverse, pulling λ (and collecting dL/dθ) back
    through each step map z_k ↦ z_{k+1}. Returns (dL_dz0, dL_dtheta), shaped like z0 and theta.
    """
    raise NotImplementedError("exercise 7: write the body of discrete_adjoint")
'''

CONTINUOUS = "continuous adjoint"
REBUILT = "states recomputed backwards"
BLOCKED = GRADIENT_ROUTES + ("adjoint_ref.discrete_adjoint.step_transpose",)
ALLOWED = ("Exercise 7 may import numpy, autograd and adjoint_ref.rk4 (rk4_step, solve_interval); not the "
           "package's gradients (method=\"backprop\" is this exercise's answer).")
STEPS = 5  # few steps, so that the O(h⁴) gap to the continuous adjoint is large enough to see


def both(problem, n_steps, dynamics):
    """(backprop, continuous adjoint) Gradients of c · z(t1) for problem = (z0, θ, c, t0, t1)."""
    z0, theta, c, t0, t1 = problem
    return [gradients(end_loss(c), dynamics, z0, theta, [t0, t1], n_steps, m) for m in ("backprop", "adjoint")]


def rebuilt(problem, n_steps, dynamics):
    """The discrete adjoint through states recomputed by stepping back from z(t1) (−h) instead of stored."""
    z0, theta, c, t0, t1 = problem
    h, z = (t1 - t0) / n_steps, z0
    for k in range(n_steps):
        z = rk4_step(dynamics, z, theta, t0 + k * h, h)
    lam, dL_dtheta = c, np.zeros_like(theta)
    for k in reversed(range(n_steps)):
        z = rk4_step(dynamics, z, theta, t0 + (k + 1) * h, -h)
        lam, step_theta = make_vjp(rk4_step, argnum=(1, 2))(dynamics, z, theta, t0 + k * h, h)[0](lam)
        dL_dtheta = dL_dtheta + step_theta
    return lam, dL_dtheta


def grade_against_backprop(fn, problem, n_steps, dynamics):
    """Raise Wrong unless fn equals backprop to round-off, evaluating f as the method does; return (its
    gap, the continuous adjoint's gap)."""
    z0, theta, c, t0, t1 = problem
    f = Tally(dynamics)
    dL_dz0, dL_dtheta = outputs(call(fn, f, z0, theta, t0, t1, c, n_steps), ["dL_dz0", "dL_dtheta"])
    backprop, continuous = both(problem, n_steps, dynamics)
    in32 = float32_seen(f)
    hint = ("this is the continuous adjoint (eqs. 11–12 solved by RK4), O(h⁴) away from backprop; "
            "differentiate the RK4 step map itself, step by step in reverse")
    # near=1e-9: two codes solving eqs. (11)–(12) with the same RK4 steps agree far closer than that.
    again = ("the states z_k are the forward pass's own: stepping back from z(t1) with −h gives other "
             "states (RK4 is not reversible), off by O(h⁵) each; keep the states of the forward pass")
    expect_close("dL/dz0", dL_dz0, backprop.z0, EXACT_TOL, near=1e-9, float32=in32, mistakes=[
        Mistake(CONTINUOUS, hint, lambda: continuous.z0),
        Mistake(REBUILT, again, lambda: rebuilt(problem, n_steps, dynamics)[0]),
        Mistake(WRONG_SIGN, "λ starts at +∂L/∂z(t1) and is pulled back unchanged in sign", lambda: -backprop.z0)])
    gap = expect_close("dL/dθ", dL_dtheta, backprop.theta, EXACT_TOL, near=1e-9, float32=in32, mistakes=[
        Mistake(CONTINUOUS, hint, lambda: continuous.theta),
        Mistake(REBUILT, again, lambda: rebuilt(problem, n_steps, dynamics)[1]),
        Mistake(WRONG_SIGN, "dL/dθ is the sum of the steps' λ_{k+1} ∂z_{k+1}/∂θ, with a plus sign",
                lambda: -backprop.theta)])
    why = audit_stages(f.take(), [(t0, t1)], n_steps, plain=4 * n_steps, per_trace=4)
    if why:
        raise Wrong(why)
    return gap, relative_difference(dL_dtheta, continuous.theta)


def exact_case(rng, setting, dyn, again=""):
    """Equal to backprop to round-off, with few RK4 steps."""
    problem = random_problem(rng, setting, dyn) + (setting.t0, setting.t1)

    def grade(fn):
        gap, continuous_gap = grade_against_backprop(fn, problem, STEPS, dyn.f)
        return f"equals backprop to {gap:.0e}; the continuous adjoint differs by {continuous_gap:.0e}"

    return Case(describe(setting, STEPS, dyn) + again, grade)


def h4_case(rng, setting, dyn, steps=(4, 8, 16)):
    """The gap between the answer and the continuous adjoint must fall like h⁴."""
    problem = random_problem(rng, setting, dyn) + (setting.t0, setting.t1)

    def grade(fn):
        gaps = [grade_against_backprop(fn, problem, n, dyn.f)[1] for n in steps]
        slopes = np.diff(np.log(gaps)) / np.diff(np.log(steps))
        # RK4's global error is C·h⁴ + O(h⁵): the slope of log(gap) against log(n) is −4 ± 0.5 here.
        if not np.all(np.abs(slopes + 4) < 0.5):
            raise Wrong(f"the gap to the continuous adjoint falls like n^{np.round(slopes, 1)}, expected n^-4")
        return f"gap to the continuous adjoint {' → '.join(f'{g:.0e}' for g in gaps)}, slope {slopes[-1]:.2f}"

    return Case(f"{describe(setting, dyn=dyn)}, {' / '.join(map(str, steps))} steps: the gap falls like h⁴", grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` with few steps and the three dynamics in turn, the h⁴ gap
    on a batch, then the first setting again with new values (an answer cached by span fails)."""
    return ([exact_case(rng, setting, ARRAY_DYNAMICS[i % 3]) for i, setting in enumerate(SETTINGS)]
            + [h4_case(rng, SETTINGS[1], ARRAY_DYNAMICS[0]),
               exact_case(rng, SETTINGS[0], ARRAY_DYNAMICS[0], "; the span of case 1 again, new values")])
