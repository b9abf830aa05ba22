"""Exercise 10: a running cost ∫ g dt in the loss — the adjoint gains −∂g/∂z and −∂g/∂θ, eq. (R2).

Graded against backprop through the forward RK4 solve with the integral computed as q' = g by the
same RK4 steps (`gradients(..., method="backprop", running_loss=g)`), to O(h⁴).
"""
import autograd.numpy as anp
from autograd.tracer import getval

from ..api import gradients
from ..rk4 import integrate
from ._common import (H4_TOL, SETTINGS, WRONG_SIGN, Case, Mistake, call, describe, dynamics, expect_close,
                      outputs, random_problem, steps_for)
from .ex4_backward_pass import end_loss
from .solutions.ex10_running_cost import running_cost_adjoint

TITLE = "a running cost in the loss"
EQUATIONS = "eqs. (R1)–(R2)"
SUMMARY = "dL/dz0 and dL/dθ for L = ℓ(z(t1)) + ∫ g dt: λ and a_θ gain −∂g/∂z and −∂g/∂θ"
FUNCTION = "running_cost_adjoint"
SKELETON = '''import numpy as np
from autograd import make_vjp

from adjoint_ref.rk4 import solve_interval  # n RK4 steps of ds/dt = F(s, theta, t), s a flat vector


def running_cost_adjoint(f, g, z1, theta, t0, t1, dL_dz1, n_steps):
    """dL/dz0 and dL/dθ for L = ℓ(z(t1)) + ∫_{t0}^{t1} g(z, θ, t) dt by the continuous adjoint, eq. (R2).

    As in exercise 4: z1 = z(t1) ends the forward solve from t0, dL_dz1 = ∂ℓ/∂z(t1) = λ(t1); solve
    [z, λ, a_θ] from t1 back to t0 with n_steps RK4 steps, now with dλ/dt = −λ ∂f/∂z − ∂g/∂z and
    da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ. g(z, theta, t) returns a scalar; theta is one array.
    Returns (dL_dz0, dL_dtheta), shaped like z1 and theta.
    """
    raise NotImplementedError("exercise 10: write the body of running_cost_adjoint")
'''

NO_DG_DZ = "∂g/∂z missing from λ"
NO_DG_DTHETA = "∂g/∂θ missing from a_θ"


def running(z, theta, t):
    """The graded running cost g(z, θ, t) = ½‖z‖² + cos(t) Σ z W: it depends on z, on θ = [W; w] and on t."""
    return 0.5 * anp.sum(z ** 2) + anp.cos(t) * anp.sum(anp.dot(z, theta[:-1]))


def running_case(rng, setting):
    """dL/dz0 and dL/dθ against backprop with running_loss=g, to O(h⁴)."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)
    z0, theta, c = random_problem(rng, setting)
    z1 = integrate(dynamics, z0, theta, [t0, t1], n_steps)[-1]

    def without(part):
        """The reference answer with g's gradient in `part` ("z" or "theta") dropped (getval stops it)."""
        def g(z, th, t):
            return running(getval(z) if part == "z" else z, getval(th) if part == "theta" else th, t)
        return running_cost_adjoint(dynamics, g, z1, theta, t0, t1, c, n_steps)

    def grade(fn):
        dL_dz0, dL_dtheta = outputs(call(fn, dynamics, running, z1, theta, t0, t1, c, n_steps),
                                    ["dL_dz0", "dL_dtheta"])
        expected = gradients(end_loss(c), dynamics, z0, theta, [t0, t1], n_steps, "backprop", running_loss=running)
        no_cost = gradients(end_loss(c), dynamics, z0, theta, [t0, t1], n_steps, "backprop")
        forgot = Mistake("no running cost", "dλ/dt = −λ ∂f/∂z − ∂g/∂z and da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ: "
                                            "eq. (R2) adds g's gradients", lambda: no_cost.z0)
        sign = Mistake(WRONG_SIGN, "g's gradients enter with the same sign as λ's products: "
                                   "dλ/dt = −λ ∂f/∂z − ∂g/∂z", lambda: 2 * no_cost.z0 - expected.z0)
        no_dg_dz = Mistake(NO_DG_DZ, "λ picks up −∂g/∂z on the way back: dλ/dt = −λ ∂f/∂z − ∂g/∂z",
                           lambda: without("z")[0])
        # dL/dθ first: it tells the mistakes apart (without ∂g/∂z, dL/dz0 is that of no running cost at all).
        expect_close("dL/dθ", dL_dtheta, expected.theta, H4_TOL, [
            forgot._replace(value=lambda: no_cost.theta), no_dg_dz._replace(value=lambda: without("z")[1]),
            Mistake(NO_DG_DTHETA, "a_θ picks up −∂g/∂θ: da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ", lambda: without("theta")[1]),
            sign._replace(value=lambda: 2 * no_cost.theta - expected.theta)])
        expect_close("dL/dz0", dL_dz0, expected.z0, H4_TOL, [no_dg_dz, sign])

    return Case(describe(setting, n_steps), grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` (one state and batches, one span backwards)."""
    return [running_case(rng, setting) for setting in SETTINGS]
