"""Exercise 6: eq. (10) holds for any λ(t), not only for the adjoint.

For an arbitrary smooth λ the three terms of eq. (10) must add up to dL/dθ (graded against backprop
through RK4). Term 1 is also graded alone against (∂L/∂z(t1) − λ(t1)) dz(t1)/dθ with dz(t1)/dθ from
`autograd.jacobian` of the forward solve, and term 3 against Simpson's rule on the RK4 grid; term 2
is then what the sum leaves. All to O(h⁴).
"""
import numpy as np
from autograd import jacobian, make_vjp

from ..api import gradients
from ..rk4 import integrate, solve_interval
from ._common import (H4_TOL, SETTINGS, WRONG_SIGN, Case, Mistake, call, describe, dynamics, expect_close,
                      outputs, random_problem, steps_for)
from .ex2_vjps import contract
from .ex4_backward_pass import end_loss
from .solutions.ex6_eq10_terms import eq10_terms

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


def multipliers(rng, shape, c):
    """(label, λ(t), dλ/dt) for the four multipliers of the cases: 0, c, and two arbitrary curves."""
    a, b = rng.normal(size=shape), rng.normal(size=shape)
    return [("λ = 0", lambda t: 0 * a, lambda t: 0 * a),
            ("λ = a + b sin 2t", lambda t: a + b * np.sin(2 * t), lambda t: 2 * b * np.cos(2 * t)),
            ("λ = ∂L/∂z(t1), a constant", lambda t: c, lambda t: 0 * c),
            ("λ = a cos t + b t", lambda t: a * np.cos(t) + b * t, lambda t: -a * np.sin(t) + b)]


def simpson_term3(z0, theta, t0, t1, n_steps, lam):
    """Term 3, ∫_{t0}^{t1} λ ∂f/∂θ dt, by Simpson's rule on the n_steps + 1 points of the RK4 grid."""
    steps = []
    solve_interval(dynamics, z0, theta, t0, t1, n_steps, record=steps)
    weights = np.where(np.arange(n_steps + 1) % 2 == 1, 4.0, 2.0)
    weights[[0, -1]] = 1.0
    values = [make_vjp(dynamics, 1)(z, theta, t)[0](lam(t)) for t, z in [(t0, z0)] + steps]
    return (t1 - t0) / n_steps / 3 * np.tensordot(weights, values, axes=1)


def terms_case(rng, setting, which):
    """The three terms for multiplier number `which` of `multipliers`, graded one by one."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)  # n_steps is even
    z0, theta, c = random_problem(rng, setting)
    label, lam, dlam_dt = multipliers(rng, z0.shape, c)[which]

    def grade(fn):
        answer = outputs(call(fn, dynamics, z0, theta, t0, t1, c, lam, dlam_dt, n_steps),
                         ["term1", "term2", "term3"])
        dL_dtheta = gradients(end_loss(c), dynamics, z0, theta, [t0, t1], n_steps, "backprop").theta
        dz1_dtheta = jacobian(lambda th: integrate(dynamics, z0, th, [t0, t1], n_steps)[-1])(theta)
        term1 = contract(c - lam(t1), dz1_dtheta)
        term3 = simpson_term3(z0, theta, t0, t1, n_steps, lam)
        term2 = dL_dtheta - term1 - term3  # eq. (10): the sum must be dL/dθ
        scale = np.linalg.norm(dL_dtheta)  # terms may be 0; differences count relative to dL/dθ
        expect_close("term 1", answer[0], term1, H4_TOL, floor=scale, mistakes=[
            Mistake(WRONG_SIGN, "term 1 is [∂L/∂z(t1) − λ(t1)] dz(t1)/dθ", lambda: -term1)])
        expect_close("term 3", answer[2], term3, H4_TOL, floor=scale, mistakes=[
            Mistake(WRONG_SIGN, "term 3 is +∫_{t0}^{t1} λ ∂f/∂θ dt", lambda: -term3)])
        expect_close("term 2", answer[1], term2, H4_TOL, floor=scale, mistakes=[
            Mistake(MISSING_DLAM, "term 2 integrates (dλ/dt + λ ∂f/∂z) dz/dθ; dλ/dt comes from the "
                                  "integration by parts of eq. (7)",
                    lambda: eq10_terms(dynamics, z0, theta, t0, t1, c, lam, lambda t: 0 * c, n_steps)[1]),
            Mistake(WRONG_SIGN, "term 2 is +∫ (dλ/dt + λ ∂f/∂z) dz/dθ dt", lambda: -term2)])
        total = sum(np.asarray(term, dtype=np.float64) for term in answer)
        return f"the terms add up to backprop's dL/dθ within {np.linalg.norm(total - dL_dtheta) / scale:.0e}"

    return Case(f"{describe(setting, n_steps)}, {label}", grade)


def cases(rng):
    """Each setting of `_common.SETTINGS` with one of the four multipliers."""
    return [terms_case(rng, setting, which) for which, setting in enumerate(SETTINGS)]
