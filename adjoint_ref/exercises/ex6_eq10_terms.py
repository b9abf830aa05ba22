"""Exercise 6: eq. (10) holds for any λ(t), not only for the adjoint.

For an arbitrary smooth λ the three terms of eq. (10) are graded one by one by `_order.grade_order`
with n and 2n steps, against the converged terms: the package's `lagrangian` module (dz/dθ by
forward sensitivities, the integrals by Simpson's rule on the RK4 grid) with FINE·2n steps. A
correct answer is the same computation with n steps (integrating the terms with RK4 instead, as the
reference answer does, errs 1–30 times less). Since the terms must add up to dL/dθ, differences are
measured relative to ‖dL/dθ‖. The dynamics vary from case to case, a last case repeats the first
one's span with new values (an answer cached by span fails), and f must be evaluated at exactly the
times of n_steps RK4 steps from t0 to t1, t0 + j·h/2 (a grid of n_steps − 1 steps fails); the
package's forward sensitivities, Lagrangian terms and gradients refuse to run for the learner's code.
"""
import numpy as np

from .. import lagrangian
from ..api import gradients
from ._common import (ARRAY_DYNAMICS, SETTINGS, WRONG_SIGN, Case, Mistake, call, describe, outputs, random_problem,
                      steps_for)
from ._guard import COUNT, GRADIENT_ROUTES, STEPS_ADVICE, Tally
from ._order import FINE, Output, grade_order
from .ex4_backward_pass import end_loss

TITLE = "eq. (10) for an arbitrary λ"
EQUATIONS = "eqs. (4)–(10)"
SUMMARY = "the three terms of eq. (10) for a given λ(t); they add up to dL/dθ whatever λ is"
FUNCTION = "eq10_terms"
SKELETON = '''import numpy as np
from autograd import jacobian

from adjoint_ref.rk4 import solve_interval  # n RK4 steps of ds/dt = g(s, theta, t), s a flat vector


def eq10_terms(f, z0, theta, t0, t1, dL_dz1, lam, dlam_dt, n_steps):
    """The three terms of eq. (10) for the multiplier λ(t) = lam(t), whose time derivative is dlam_dt(t).

    term1 = [∂L/∂z(t1) − λ(t1)] dz(t1)/dθ
    term2 = ∫_{t0}^{t1} (dλ/dt + λ ∂f/∂z) dz(t)/dθ dt
    term3 = ∫_{t0}^{t1} λ ∂f/∂θ dt
    z(t) solves dz/dt = f(z, theta, t) from z(t0) = z0 (one state (D,) or a batch (B, D));
    dL_dz1 = ∂L/∂z(t1); lam(t) and dlam_dt(t) return arrays shaped like z0; theta is one array.
    Use n_steps equal RK4 steps from t0 to t1 (t1 < t0 is allowed). dz(t)/dθ obeys its own ODE,
    d/dt (dz/dθ) = ∂f/∂z dz/dθ + ∂f/∂θ with dz(t0)/dθ = 0; the Jacobians are small here.
    Returns (term1, term2, term3), each shaped like theta.
    """
    raise NotImplementedError("exercise 6: write the body of eq10_terms")
'''

MISSING_DLAM = "missing dλ/dt"
BLOCKED = GRADIENT_ROUTES + tuple(f"adjoint_ref.lagrangian.{name}" for name in (
    "eq10_terms", "forward_path", "jacobians_along", "along_path", "eq8_constraint_derivative",
    "eq9_constraint_derivative", "chain_rule")) + ("adjoint_ref.sensitivity.sensitivity_dynamics",)
ALLOWED = ("Exercise 6 may import numpy, autograd and adjoint_ref.rk4 (rk4_step, solve_interval); "
           "not the package's sensitivities or Lagrangian terms.")
MEANINGS = ("[∂L/∂z(t1) − λ(t1)] dz(t1)/dθ", "∫_{t0}^{t1} (dλ/dt + λ ∂f/∂z) dz/dθ dt",
            "∫_{t0}^{t1} λ ∂f/∂θ dt")


def grid_times(calls, t0, t1, n_steps):
    """'' if f was evaluated at exactly the times of n_steps RK4 steps from t0 to t1 (t0 + j h/2,
    j = 0 … 2 n_steps: the stages, and Simpson's nodes among them), else why not."""
    h = (t1 - t0) / n_steps
    wanted = t0 + h / 2 * np.arange(2 * n_steps + 1)
    seen = np.unique(np.round([call.t for call in calls], 9))
    if seen.size == wanted.size and np.allclose(seen, np.sort(wanted), rtol=0, atol=1e-9 * max(1, abs(t0), abs(t1))):
        return ""
    return (f"{COUNT}: f was evaluated at {seen.size} distinct times, where n_steps = {n_steps} RK4 steps from "
            f"t0 to t1 evaluate it at {wanted.size}, t0 + j·h/2 for j = 0 … {2 * n_steps}; {STEPS_ADVICE}")


def multipliers(rng, shape, c):
    """(label, λ(t), dλ/dt) for the four multipliers of the cases: 0, c, and two arbitrary curves.

    Each call returns a new array, so that a learner who changes one in place changes nothing else."""
    a, b = rng.normal(size=shape), rng.normal(size=shape)
    return [("λ = 0", lambda t: 0 * a, lambda t: 0 * a),
            ("λ = a + b sin 2t", lambda t: a + b * np.sin(2 * t), lambda t: 2 * b * np.cos(2 * t)),
            ("λ = ∂L/∂z(t1), a constant", lambda t: c.copy(), lambda t: 0 * c),
            ("λ = a cos t + b t", lambda t: a * np.cos(t) + b * t, lambda t: -a * np.sin(t) + b)]


def grid_terms(dynamics, z0, theta, ts, c, lam, dlam_dt, n_steps):
    """The three terms of eq. (10), shaped like θ, by `lagrangian` on the RK4 grid of n_steps."""
    path = lagrangian.forward_path(dynamics, z0, theta, ts, n_steps)
    on_grid = [np.array([[np.ravel(g(t)) for t in row] for row in path.t]) for g in (lam, dlam_dt)]
    products = lagrangian.along_path(lagrangian.jacobians_along(dynamics, theta, path, z0.shape), on_grid[0])
    terms = lagrangian.eq10_terms(np.ravel(c)[None], *on_grid, path.S, products.lam_fz, products.lam_ftheta, path.t)
    return [np.reshape(term, theta.shape) for term in terms]


def terms_case(rng, setting, which, dyn, again=""):
    """The three terms for multiplier number `which` of `multipliers`, graded one by one."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)  # n_steps is even
    dynamics = dyn.f
    z0, theta, c = random_problem(rng, setting, dyn)
    label, lam, dlam_dt = multipliers(rng, z0.shape, c)[which]
    ts = np.array([t0, t1])
    # Terms may be 0; their differences count relative to dL/dθ (here with n steps, a scale only).
    scale = np.linalg.norm(gradients(end_loss(c), dynamics, z0, theta, ts, n_steps, "backprop").theta)

    def mistakes(k):
        """The known mistakes in term k + 1, given its converged value."""
        advice = ["term 1 is [∂L/∂z(t1) − λ(t1)] dz(t1)/dθ", "term 2 is +∫ (dλ/dt + λ ∂f/∂z) dz/dθ dt",
                  "term 3 is +∫_{t0}^{t1} λ ∂f/∂θ dt"][k]
        without_dlam = Mistake(MISSING_DLAM, "term 2 integrates (dλ/dt + λ ∂f/∂z) dz/dθ; dλ/dt comes from the "
                                             "integration by parts of eq. (7)",
                               lambda: grid_terms(dynamics, z0, theta, ts, c, lam, lambda t: 0 * c, n_steps)[1])

        def known(term):
            sign = Mistake(WRONG_SIGN, advice, lambda: -term)
            return [sign, without_dlam] if k == 1 else [sign]
        return known

    def grade(fn):
        f = Tally(dynamics)
        return grade_order(
            lambda n: outputs(call(fn, f, z0, theta, t0, t1, c, lam, dlam_dt, n), ["term1", "term2", "term3"]),
            lambda: grid_terms(dynamics, z0, theta, ts, c, lam, dlam_dt, 2 * FINE * n_steps),
            lambda n: [grid_terms(dynamics, z0, theta, ts, c, lam, dlam_dt, n)],
            [Output(f"term {k + 1}", scale, mistakes(k), MEANINGS[k]) for k in range(3)], n_steps,
            audit=lambda n: grid_times(f.take(), t0, t1, n))

    return Case(f"{describe(setting, dyn=dyn)}, {n_steps} and {2 * n_steps} steps, {label}{again}", grade)


def cases(rng):
    """Each setting of `_common.SETTINGS` with one of the four multipliers and the three dynamics in turn,
    then the first setting again with new values (an answer cached by span fails)."""
    return ([terms_case(rng, setting, which, ARRAY_DYNAMICS[which % 3]) for which, setting in enumerate(SETTINGS)]
            + [terms_case(rng, SETTINGS[0], 1, ARRAY_DYNAMICS[0], "; the span of case 1 again, new values")])
