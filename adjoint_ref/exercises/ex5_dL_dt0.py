"""Exercise 5: dL/dt0, the gradient with respect to the start time, and its sign.

Graded by `_order.grade_order` with n and 2n steps against the converged dL/dt0 (backprop, in t0,
through a forward RK4 solve with FINE·2n steps, to which z1 belongs too). Two correct variants set
the tolerance: a_t(t0) integrated as the statement asks, and −λ(t0)·f(z(t0), θ, t0) with z and λ
from the same backward pass (hint 2); their errors differ by up to ~6 times. As in exercise 4, the dynamics vary, a last case
repeats the first one's span with new values, f is evaluated once per RK4 stage inside make_vjp
(and at most once outside it: −λ·f at t1 or at t0), and the package's gradient routes refuse to run.
"""
import numpy as np

from ..adjoint import augmented_dynamics
from ..api import gradients
from ..rk4 import integrate, solve_interval
from ._common import (ARRAY_DYNAMICS, SETTINGS, TIME_DEPENDENCE, WRONG_SIGN, Case, Mistake, call, describe,
                      random_problem, steps_for)
from ._guard import GRADIENT_ROUTES, Tally, audit_stages
from ._order import FINE, Output, grade_order
from .ex4_backward_pass import end_loss

TITLE = "dL/dt0 and its sign"
EQUATIONS = "eqs. (11)–(12) and the comment thread on dL/dt0"
SUMMARY = "integrate a_t from −λ(t1)·f(z(t1), θ, t1) back to t0; its final value is dL/dt0"
FUNCTION = "dL_dt0"
SKELETON = '''import numpy as np
from autograd import make_vjp

from adjoint_ref.rk4 import solve_interval  # n RK4 steps of ds/dt = g(s, theta, t), s a flat vector


def dL_dt0(f, z1, theta, t0, t1, dL_dz1, n_steps):
    """dL/dt0 for a loss L(z(t1)), where z(t1) is reached from a fixed z0 at the start time t0.

    z1 = z(t1); dL_dz1 = ∂L/∂z(t1) = λ(t1); n_steps equal RK4 steps from t1 to t0 (t1 < t0 is
    allowed); theta is one array. Returns dL/dt0 as a float.
    """
    raise NotImplementedError("exercise 5: write the body of dL_dt0")
'''


BLOCKED = GRADIENT_ROUTES + ("adjoint_ref.lagrangian.dL_dt0", "adjoint_ref.lagrangian.dL_dtn")
ALLOWED = ("Exercise 5 may import numpy, autograd, adjoint_ref.rk4 (rk4_step, solve_interval) and "
           "adjoint_ref.adjoint.augmented_dynamics (exercise 3), and no gradient of the package.")
MEANING = ("a_t(t0): a_t(t1) = −λ(t1)·f(z(t1), θ, t1) carried from t1 to t0 by da_t/dt = −λ ∂f/∂t, "
           "equal to −λ(t0)·f(z(t0), θ, t0)")


def start_time_case(rng, setting, dyn, again=""):
    """dL/dt0 with n and 2n steps against the converged value: errors and order of RK4."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)
    dynamics = dyn.f
    z0, theta, c = random_problem(rng, setting, dyn)
    ts = np.array([t0, t1])
    z1 = integrate(dynamics, z0, theta, ts, 2 * FINE * n_steps)[-1]
    at_t1 = np.vdot(c, dynamics(z1, theta, t1))  # λ(t1)·f(z(t1), θ, t1)

    def variants(n):
        """a_t(t0), and −λ(t0)·f(z(t0), θ, t0), from the package's backward pass with n steps."""
        s1 = np.concatenate([np.ravel(z1), np.ravel(c), np.zeros(theta.size), [-at_t1]])
        s0, m = solve_interval(augmented_dynamics(dynamics, z1.shape), s1, theta, t1, t0, n), z1.size
        return [[s0[-1]], [-np.vdot(s0[m:2 * m], dynamics(s0[:m].reshape(z1.shape), theta, t0))]]

    def mistakes(converged):
        return [Mistake(WRONG_SIGN, "dL/dt0 = −λ(t0)·f(z0, θ, t0): starting later from the same z0 leaves "
                                    "less time to move. The comment under the derivation gets +λ(t0)·f, the "
                                    "negative", lambda: -converged),
                Mistake(TIME_DEPENDENCE, "−λ(t1)·f(z(t1), θ, t1) is only where a_t starts; f depends on t, so "
                                         "integrate da_t/dt = −λ ∂f/∂t back to t0", lambda: -at_t1)]

    def grade(fn):
        # dL/dt0 may be near 0 by chance; differences are measured against the size of λ(t1)·f.
        f = Tally(dynamics)
        return grade_order(
            lambda n: [call(fn, f, z1, theta, t0, t1, c, n)],
            lambda: [gradients(end_loss(c), dynamics, z0, theta, ts, 2 * FINE * n_steps, "backprop").ts[0]],
            variants, [Output("dL/dt0", np.linalg.norm(c) * np.linalg.norm(dynamics(z1, theta, t1)), mistakes,
                              MEANING)],
            n_steps, audit=lambda n: audit_stages(f.take(), [(t1, t0)], n, plain=1))

    return Case(f"{describe(setting, dyn=dyn)}, {n_steps} and {2 * n_steps} steps{again}", grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` (one state and batches, one span backwards) with the three
    dynamics in turn, then the first setting again with new values (an answer cached by span fails)."""
    return ([start_time_case(rng, setting, ARRAY_DYNAMICS[i % 3]) for i, setting in enumerate(SETTINGS)]
            + [start_time_case(rng, SETTINGS[0], ARRAY_DYNAMICS[0], "; the span of case 1 again, new values")])
