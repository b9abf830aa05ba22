"""Exercise 4: the backward pass for dL/dθ — eqs. (11) and (12) solved from t1 to t0 with RK4.

Graded against backprop through the forward RK4 solve (`gradients(method="backprop")`): the two
agree up to RK4's O(h⁴) error.
"""
import autograd.numpy as anp

from ..api import gradients
from ..rk4 import integrate
from ._common import (H4_TOL, SETTINGS, WRONG_DIRECTION, WRONG_SIGN, Case, Mistake, call, describe, dynamics,
                      expect_close, outputs, random_problem, steps_for)
from .solutions.ex4_backward_pass import backward_pass

TITLE = "the backward pass for dL/dθ"
EQUATIONS = "eqs. (11)–(12)"
SUMMARY = "solve [z, λ, a_θ] from t1 back to t0 with RK4; return dL/dz0 = λ(t0) and dL/dθ = a_θ(t0)"
FUNCTION = "backward_pass"
SKELETON = '''import numpy as np
from autograd import make_vjp

from adjoint_ref.rk4 import solve_interval  # n RK4 steps of ds/dt = g(s, theta, t), s a flat vector


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    """dL/dz0 and dL/dθ for a loss L(z(t1)) by the continuous adjoint method (eqs. 11–12).

    z1 = z(t1) is the end of the forward solve started at time t0 (z0 is not given: re-integrate z
    backwards alongside λ). dL_dz1 = ∂L/∂z(t1) is λ(t1). Take n_steps equal RK4 steps from t1 to t0
    (t1 < t0 is allowed: then "backwards" runs forwards in time). theta is one array.
    Returns (dL_dz0, dL_dtheta), shaped like z1 and theta.
    """
    raise NotImplementedError("exercise 4: write the body of backward_pass")
'''


def end_loss(c):
    """L(zs) = c · z(t_last): a loss whose gradient ∂L/∂z(t1) is c."""
    return lambda zs: anp.sum(c * zs[-1])


def backward_case(rng, setting):
    """dL/dz0 and dL/dθ against backprop through RK4, to O(h⁴)."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)
    z0, theta, c = random_problem(rng, setting)
    z1 = integrate(dynamics, z0, theta, [t0, t1], n_steps)[-1]

    def reversed_steps():  # steps of (t0 − t1)/n taken from t1 away from t0, i.e. to 2·t1 − t0
        return backward_pass(dynamics, z1, theta, 2 * t1 - t0, t1, c, n_steps)

    def grade(fn):
        dL_dz0, dL_dtheta = outputs(call(fn, dynamics, z1, theta, t0, t1, c, n_steps), ["dL_dz0", "dL_dtheta"])
        expected = gradients(end_loss(c), dynamics, z0, theta, [t0, t1], n_steps, "backprop")
        direction = Mistake(WRONG_DIRECTION, "integrate from t1 to t0: the step is h = (t0 − t1)/n_steps",
                            lambda: reversed_steps()[0])
        expect_close("dL/dz0", dL_dz0, expected.z0, H4_TOL, [direction])
        expect_close("dL/dθ", dL_dtheta, expected.theta, H4_TOL, [
            direction._replace(value=lambda: reversed_steps()[1]),
            Mistake(WRONG_SIGN, "a_θ starts at 0 at t1 and obeys da_θ/dt = −λ ∂f/∂θ, so that "
                                "a_θ(t0) = −∫_{t1}^{t0} λ ∂f/∂θ dt (eq. 12)", lambda: -expected.theta)])

    return Case(describe(setting, n_steps), grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` (one state and batches, one span backwards)."""
    return [backward_case(rng, setting) for setting in SETTINGS]
