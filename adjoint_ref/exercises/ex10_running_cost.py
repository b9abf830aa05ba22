"""Exercise 10: a running cost ∫ g dt in the loss — the adjoint gains −∂g/∂z and −∂g/∂θ, eq. (R2).

Graded by `_order.grade_order` with n and 2n steps, as exercise 4, against the converged gradient:
backprop through a forward RK4 solve with FINE·2n steps (which also gives z1) and the integral
computed as q' = g by the same steps (`gradients(..., method="backprop", running_loss=g)`). A correct
answer is the package's continuous adjoint with the running cost (`adjoint.augmented_dynamics(f, shape,
g)`) with the same steps; the known mistakes are that adjoint with parts of g's gradient stopped.
The dynamics vary from case to case, and so do θ's container (an array, a list, a dict) and the
running cost (two forms, both built on f, so that gradients derived by hand for one g fail), a last
case repeats the first one's span with new values, f and g are each evaluated once per RK4 stage
inside make_vjp, and the package's gradient routes, and its augmented dynamics with a running cost,
refuse to run for the learner's code.
"""
import autograd.numpy as anp
import numpy as np
from autograd.misc import flatten
from autograd.tracer import getval

from ..adjoint import augmented_dynamics
from ..api import gradients
from ..rk4 import integrate, solve_interval
from ._common import (MLP, POLYNOMIAL, ROTATION_LIST, SETTINGS, TANH, WRONG_SIGN, Case, Mistake, call, describe,
                      outputs, random_problem, steps_for, tree_map)
from ._guard import GRADIENT_ROUTES, Tally, audit_stages
from ._order import FINE, Output, grade_order
from .ex4_backward_pass import end_loss

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
    da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ. g(z, theta, t) returns a scalar; theta is an array or a container
    (dict, list) of arrays. Returns (dL_dz0, dL_dtheta), shaped like z1 and theta.
    """
    raise NotImplementedError("exercise 10: write the body of running_cost_adjoint")
'''

NO_DG_DZ = "∂g/∂z missing from λ"
NO_DG_DTHETA = "∂g/∂θ missing from a_θ"
BLOCKED = GRADIENT_ROUTES + (("adjoint_ref.adjoint.augmented_dynamics", lambda f, shape, g=None: g is not None),
                             "adjoint_ref.adjoint.with_running_cost")
ALLOWED = ("Exercise 10 may import numpy, autograd and adjoint_ref.rk4 (rk4_step, solve_interval); not the "
           "package's gradients or its augmented dynamics with a running cost.")
MEANINGS = ("a_θ(t0): a_θ(t1) = 0 carried from t1 to t0 by da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ (eq. R2)",
            "λ(t0): λ(t1) = ∂ℓ/∂z(t1) carried from t1 to t0 by dλ/dt = −λ ∂f/∂z − ∂g/∂z (eq. R2)")


def running_costs(f):
    """The two graded running costs, (label, g), both built on the dynamics f so that they depend on z,
    on every entry of θ and on t."""
    return [("½‖z‖² + cos(t) Σ z·f(z, θ, t)",
             lambda z, theta, t: 0.5 * anp.sum(z ** 2) + anp.cos(t) * anp.sum(z * f(z, theta, t))),
            ("(1 + t²) Σ sin z + ½‖f(z, θ, t)‖²",
             lambda z, theta, t: (1 + t ** 2) * anp.sum(anp.sin(z)) + 0.5 * anp.sum(f(z, theta, t) ** 2))]


def running_case(rng, setting, dyn, which, again=""):
    """dL/dz0 and dL/dθ with n and 2n steps against the converged gradient: errors and order of RK4."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)
    dynamics = dyn.f
    label, running = running_costs(dynamics)[which]
    z0, theta, c = random_problem(rng, setting, dyn)
    ts = np.array([t0, t1])
    z1 = integrate(dynamics, z0, theta, ts, 2 * FINE * n_steps)[-1]
    flat_theta, unflatten = flatten(theta)

    def continuous(n, g=running):
        """The package's continuous adjoint from t1 back to t0 with the running cost g, n steps."""
        s1 = np.concatenate([np.ravel(z1), np.ravel(c), np.zeros(flat_theta.size), [0.0]])
        s0 = solve_interval(augmented_dynamics(dynamics, z1.shape, g), s1, theta, t1, t0, n)
        return s0[z1.size:2 * z1.size].reshape(z1.shape), unflatten(s0[2 * z1.size:-1])

    def without(part):
        """g with its gradient in `part` ("z" or "theta") stopped (getval), for the mistakes."""
        return lambda z, th, t: running(getval(z) if part == "z" else z, getval(th) if part == "theta" else th, t)

    def exact():
        converged = gradients(end_loss(c), dynamics, z0, theta, ts, 2 * FINE * n_steps, "backprop",
                              running_loss=running)
        return converged.theta, converged.z0

    def mistakes(k):
        """The known mistakes in output k (0: dL/dθ, 1: dL/dz0), given its converged value."""
        def known(converged):
            no_cost = Mistake("no running cost", "dλ/dt = −λ ∂f/∂z − ∂g/∂z and da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ: "
                                                 "eq. (R2) adds g's gradients", lambda: continuous(n_steps, None)[1 - k])
            no_dg_dz = Mistake(NO_DG_DZ, "λ picks up −∂g/∂z on the way back: dλ/dt = −λ ∂f/∂z − ∂g/∂z",
                               lambda: continuous(n_steps, without("z"))[1 - k])
            no_dg_dtheta = Mistake(NO_DG_DTHETA, "a_θ picks up −∂g/∂θ: da_θ/dt = −λ ∂f/∂θ − ∂g/∂θ",
                                   lambda: continuous(n_steps, without("theta"))[1 - k])
            sign = Mistake(WRONG_SIGN, "g's gradients enter with the same sign as λ's products: "
                                       "dλ/dt = −λ ∂f/∂z − ∂g/∂z",
                           lambda: tree_map(lambda a, b: 2 * a - b, continuous(n_steps, None)[1 - k], converged))
            # Without ∂g/∂z, dL/dz0 is that of no running cost at all: dL/dθ, graded first, tells them apart.
            return [no_cost, no_dg_dz, no_dg_dtheta, sign] if k == 0 else [no_dg_dz, sign]
        return known

    def grade(fn):
        f, g = Tally(dynamics), Tally(running, "g")

        def audit(n):
            spans = [(t1, t0)]
            return audit_stages(f.take(), spans, n) or audit_stages(g.take(), spans, n, "g")

        return grade_order(
            lambda n: outputs(call(fn, f, g, z1, theta, t0, t1, c, n), ["dL_dz0", "dL_dtheta"])[::-1],
            exact, lambda n: [continuous(n)[::-1]],
            [Output("dL/dθ", 0.0, mistakes(0), MEANINGS[0]), Output("dL/dz0", 0.0, mistakes(1), MEANINGS[1])],
            n_steps, audit=audit)

    return Case(f"{describe(setting, dyn=dyn)}; g = {label}, {n_steps} and {2 * n_steps} steps{again}", grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` with θ an array, a list, an array and a dict and both running
    costs, then the first setting again with new values (an answer cached by span fails)."""
    return ([running_case(rng, setting, dyn, i % 2)
             for i, (setting, dyn) in enumerate(zip(SETTINGS, (TANH, ROTATION_LIST, POLYNOMIAL, MLP)))]
            + [running_case(rng, SETTINGS[0], TANH, 0, "; the span of case 1 again, new values")])
