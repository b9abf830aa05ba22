"""Exercise 9: the discrete adjoint from the Lagrangian of the RK4 equations, (D1)–(D4).

One RK4 step carries a multiplier λ_{k+1} for the step equation and μ_1 … μ_4 for the stage equations;
setting the coefficients of dz_k/dθ and dk_i/dθ to zero gives the recursion (D3)–(D4) of
derivation/README.md. Graded against autograd's VJP of the whole step (`autograd.make_vjp` of
`rk4.rk4_step`), which it must equal to round-off, and, chained over n steps, against backprop, on
the three dynamics of `_common.ARRAY_DYNAMICS`. The statement asks for one make_vjp of f per stage and
forbids a VJP of the whole step: the learner's evaluations of f must be four, each in a make_vjp of
its own, at the stage times (`_guard.audit_stages`); the package's step transpose refuses to run.
"""
import numpy as np
from autograd import make_vjp

from ..api import gradients
from ..rk4 import rk4_step, step_states
from ._common import (ARRAY_DYNAMICS, EXACT_TOL, SETTINGS, WRONG_SIGN, Case, Mistake, Wrong, call, expect_close,
                      outputs, random_problem, state_shape)
from ._guard import GRADIENT_ROUTES, Tally, audit_stages, float32_seen
from .ex4_backward_pass import end_loss

TITLE = "the discrete adjoint from the Lagrangian of RK4"
EQUATIONS = "eqs. (D1)–(D4)"
SUMMARY = "one RK4 step backwards through its stage multipliers μ_i: λ_k and the step's share of dL/dθ"
FUNCTION = "step_multipliers"
SKELETON = '''import numpy as np
from autograd import make_vjp

A = (0.0, 0.5, 0.5, 1.0)  # stage i reads Y_i = z + h A[i] k_{i-1}
C = (0.0, 0.5, 0.5, 1.0)  # at time t + C[i] h
B = (1 / 6, 1 / 3, 1 / 3, 1 / 6)  # z_next = z + h Σ B[i] k_i


def step_multipliers(f, z, theta, t, h, lam_next):
    """λ_k and Σ_i μ_i ∂f/∂θ(Y_i) for one RK4 step z_k = z ↦ z_{k+1} from t to t + h, given λ_{k+1} = lam_next.

    Recompute the stages forwards (one make_vjp of f per stage), then the stage multipliers from the
    last: μ_4 = h B[3] λ_{k+1}, μ_i = h B[i] λ_{k+1} + h A[i+1] μ_{i+1} ∂f/∂z(Y_{i+1}); then
    λ_k = λ_{k+1} + Σ_i μ_i ∂f/∂z(Y_i). Do not differentiate the whole step: use f's VJPs only.
    z is one state (D,) or a batch of M states (M, D); h may be negative; theta is one array.
    Returns (lam, dL_dtheta_step), shaped like z and theta.
    """
    raise NotImplementedError("exercise 9: write the body of step_multipliers")
'''

NO_COUPLING = "stage coupling dropped"
NO_IDENTITY = "λ_{k+1} left out of λ_k"
BLOCKED = GRADIENT_ROUTES + ("adjoint_ref.discrete_adjoint.step_transpose",)
ALLOWED = ("Exercise 9 may import numpy and autograd (make_vjp of f, one per stage); not a VJP of the "
           "whole step, nor the package's step transpose.")


def step_vjp(dynamics, z, theta, t, h, lam_next):
    """(λ_{k+1} ∂z_{k+1}/∂z_k, λ_{k+1} ∂z_{k+1}/∂θ) by autograd through the whole RK4 step."""
    return make_vjp(rk4_step, argnum=(1, 2))(dynamics, z, theta, t, h)[0](lam_next)


def one_vjp_per_stage(f, t, h):
    """Raise Wrong unless the learner's evaluations of f (Tally f) were one step's four stages, each in a
    make_vjp of its own (not a VJP of the whole step)."""
    why = audit_stages(f.take(), [(t, t + h)], 1)
    if why:
        raise Wrong(why)


def uncoupled(dynamics, z, theta, t, h, lam_next):
    """The mistake μ_i = h b_i λ_{k+1} (the a_{i+1} μ_{i+1} ∂f/∂z term dropped), with autograd's stage VJPs."""
    lam, dtheta, y, k = lam_next, 0.0, z, None
    for a, c, b in zip((0.0, 0.5, 0.5, 1.0), (0.0, 0.5, 0.5, 1.0), (1 / 6, 1 / 3, 1 / 3, 1 / 6)):
        y = z if k is None else z + h * a * k
        vjp, k = make_vjp(dynamics, argnum=(0, 1))(y, theta, t + c * h)
        g_z, g_theta = vjp(h * b * lam_next)
        lam, dtheta = lam + g_z, dtheta + g_theta
    return lam, dtheta


def step_case(rng, setting, h, dyn):
    """One step, one state or a batch, forwards or backwards in time: equal to autograd's step VJP."""
    dynamics = dyn.f
    z, theta, lam_next = random_problem(rng, setting, dyn)
    t = setting.t0

    def grade(fn):
        f = Tally(dynamics)
        lam, dtheta = outputs(call(fn, f, z, theta, t, h, lam_next), ["lam", "dL_dtheta_step"])
        expected = step_vjp(dynamics, z, theta, t, h, lam_next)
        gap = expect_close("λ_k", lam, expected[0], EXACT_TOL, float32=float32_seen(f), mistakes=[
            Mistake(NO_COUPLING, "μ_i also collects h a_{i+1} μ_{i+1} ∂f/∂z(Y_{i+1}): stage i+1 reads k_i "
                                 "through Y_{i+1}, so go from the last stage to the first",
                    lambda: uncoupled(dynamics, z, theta, t, h, lam_next)[0]),
            Mistake(NO_IDENTITY, "z_k enters z_{k+1} = z_k + … directly: λ_k = λ_{k+1} + Σ_i μ_i ∂f/∂z(Y_i)",
                    lambda: expected[0] - lam_next),
            Mistake(WRONG_SIGN, "the stage terms are added: λ_k = λ_{k+1} + Σ_i μ_i ∂f/∂z(Y_i)",
                    lambda: 2 * lam_next - expected[0])])
        expect_close("Σ μ_i ∂f/∂θ", dtheta, expected[1], EXACT_TOL, float32=float32_seen(f), mistakes=[
            Mistake(NO_COUPLING, "μ_i = h b_i λ_{k+1} + h a_{i+1} μ_{i+1} ∂f/∂z(Y_{i+1}), from the last stage",
                    lambda: uncoupled(dynamics, z, theta, t, h, lam_next)[1]),
            Mistake(WRONG_SIGN, "dL/dθ gains +μ_i ∂f/∂θ(Y_i)", lambda: -expected[1])])
        one_vjp_per_stage(f, t, h)
        return f"equals autograd's VJP of the step to {gap:.0e}"

    return Case(f"one step from t = {t:g} to t + h = {t + h:g} (h = {h:g}), z of shape {state_shape(setting)}; "
                f"f = {dyn.name}", grade)


def chained_case(rng, setting, dyn, n_steps=6):
    """Chained over n steps from the last, the multipliers give backprop's dL/dz0 and dL/dθ."""
    dynamics = dyn.f
    z0, theta, c = random_problem(rng, setting, dyn)
    t0, t1 = setting.t0, setting.t1
    h = (t1 - t0) / n_steps
    states = step_states(dynamics, z0, theta, t0, t1, n_steps)

    def grade(fn):
        lam, dL_dtheta, f = c, np.zeros_like(theta), Tally(dynamics)
        for k in range(n_steps - 1, -1, -1):
            lam, dtheta = outputs(call(fn, f, states[k], theta, t0 + k * h, h, lam), ["lam", "dL_dtheta_step"])
            one_vjp_per_stage(f, t0 + k * h, h)
            dL_dtheta = dL_dtheta + np.reshape(dtheta, np.shape(theta))
        expected = gradients(end_loss(c), dynamics, z0, theta, [t0, t1], n_steps, "backprop")
        expect_close("dL/dz0 = λ_0", lam, expected.z0, EXACT_TOL)
        gap = expect_close("dL/dθ", dL_dtheta, expected.theta, EXACT_TOL)
        return f"{n_steps} steps chained: backprop's gradient to {gap:.0e}"

    return Case(f"{n_steps} steps chained, t {t0:g} → {t1:g}, h = {h:g}, z of shape {state_shape(setting)}; "
                f"f = {dyn.name}", grade)


def cases(rng):
    """One step on each setting of `_common.SETTINGS` (h > 0 and h < 0) with the three dynamics in turn,
    then six steps chained."""
    return ([step_case(rng, setting, h, ARRAY_DYNAMICS[i % 3])
             for i, (setting, h) in enumerate(zip(SETTINGS, (0.3, 0.2, -0.25, 0.4)))]
            + [chained_case(rng, SETTINGS[1], ARRAY_DYNAMICS[2])])
