"""Exercise 4: the backward pass for dL/dθ — eqs. (11) and (12) solved from t1 to t0 with RK4.

Graded by `_order.grade_order` with n and 2n steps against the converged gradient (backprop through
a forward RK4 solve with FINE·2n steps, to which z1 belongs too); a correct answer is the package's
continuous adjoint (`adjoint.adjoint_gradients`) with the same steps. The dynamics vary from case to
case (`_common.ARRAY_DYNAMICS`), a last case repeats the first one's span and steps with new values
(an answer cached by span fails), and f must be evaluated as prescribed: one make_vjp per RK4 stage
of the n_steps steps, nothing else (`_guard.audit_stages`); the package's gradient routes
(`_guard.GRADIENT_ROUTES`) refuse to run for the learner's code.
"""
import autograd.numpy as anp
import numpy as np

from ..adjoint import adjoint_gradients
from ..api import gradients
from ..rk4 import integrate
from ._common import (ARRAY_DYNAMICS, SETTINGS, WRONG_DIRECTION, WRONG_SIGN, Case, Mistake, call, describe,
                      outputs, random_problem, steps_for)
from ._guard import GRADIENT_ROUTES, Tally, audit_stages
from ._order import FINE, Output, grade_order

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


BLOCKED = GRADIENT_ROUTES
ALLOWED = ("Exercise 4 may import numpy, autograd, adjoint_ref.rk4 (rk4_step, solve_interval) and "
           "adjoint_ref.adjoint.augmented_dynamics (exercise 3), and no other gradient of the package.")
MEANINGS = ("λ(t0): λ(t1) = ∂L/∂z(t1) carried from t1 to t0 by dλ/dt = −λ ∂f/∂z (eq. 11)",
            "a_θ(t0) = −∫_{t1}^{t0} λ ∂f/∂θ dt, from a_θ(t1) = 0 (eq. 12)")


def end_loss(c):
    """L(zs) = c · z(t_last): a loss whose gradient ∂L/∂z(t1) is c."""
    return lambda zs: anp.sum(c * zs[-1])


def backward_case(rng, setting, dyn, again=""):
    """dL/dz0 and dL/dθ with n and 2n steps against the converged gradient: errors and order of RK4, and
    f evaluated once per stage inside make_vjp."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)
    dynamics = dyn.f
    z0, theta, c = random_problem(rng, setting, dyn)
    ts = np.array([t0, t1])
    z1 = integrate(dynamics, z0, theta, ts, 2 * FINE * n_steps)[-1]

    def continuous(start, z_start, n):
        """The package's continuous adjoint from (t1, z1) back to (start, z_start) with n steps."""
        dL_dz0, dL_dtheta, _ = adjoint_gradients(dynamics, np.stack([z_start, z1]), theta, np.array([start, t1]), n,
                                                 np.stack([0 * c, c]))
        return dL_dz0, dL_dtheta.reshape(theta.shape)

    def away_from_t0(k):  # steps of (t1 − t0)/n from t1, to 2 t1 − t0; z there by the same steps
        away = 2 * t1 - t0
        return continuous(away, integrate(dynamics, z1, theta, np.array([t1, away]), n_steps)[-1], n_steps)[k]

    def exact():
        converged = gradients(end_loss(c), dynamics, z0, theta, ts, 2 * FINE * n_steps, "backprop")
        return converged.z0, converged.theta

    def mistakes(k):
        """The known mistakes in output k (0: dL/dz0, 1: dL/dθ), given its converged value."""
        def known(converged):
            away = Mistake(WRONG_DIRECTION, "integrate from t1 to t0: the step is h = (t0 − t1)/n_steps",
                           lambda: away_from_t0(k))
            sign = Mistake(WRONG_SIGN, "a_θ starts at 0 at t1 and obeys da_θ/dt = −λ ∂f/∂θ, so that "
                                       "a_θ(t0) = −∫_{t1}^{t0} λ ∂f/∂θ dt (eq. 12)", lambda: -converged)
            return [away, sign] if k == 1 else [away]
        return known

    def grade(fn):
        f = Tally(dynamics)
        return grade_order(
            lambda n: outputs(call(fn, f, z1, theta, t0, t1, c, n), ["dL_dz0", "dL_dtheta"]),
            exact, lambda n: [continuous(t0, z0, n)],
            [Output("dL/dz0", 0.0, mistakes(0), MEANINGS[0]), Output("dL/dθ", 0.0, mistakes(1), MEANINGS[1])],
            n_steps, audit=lambda n: audit_stages(f.take(), [(t1, t0)], n))

    return Case(f"{describe(setting, dyn=dyn)}, {n_steps} and {2 * n_steps} steps{again}", grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` (one state and batches, one span backwards) with the three
    dynamics in turn, then the first setting again with new z, θ and λ (an answer cached by span fails)."""
    return ([backward_case(rng, setting, ARRAY_DYNAMICS[i % 3]) for i, setting in enumerate(SETTINGS)]
            + [backward_case(rng, SETTINGS[0], ARRAY_DYNAMICS[0], "; the span of case 1 again, new values")])
