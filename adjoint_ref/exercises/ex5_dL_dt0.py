"""Exercise 5: dL/dt0, the gradient with respect to the start time, and its sign.

Graded against central finite differences of the forward RK4 solve in t0 (no autodiff): the
adjoint value differs from them by RK4's O(h⁴) error plus the differences' ~1e-10.
"""
import numpy as np

from ..finite_differences import fd_vjp
from ..rk4 import integrate
from ._common import (H4_TOL, SETTINGS, TIME_DEPENDENCE, WRONG_SIGN, Case, Mistake, call, describe, dynamics,
                      expect_close, random_problem, steps_for)

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


def start_time_case(rng, setting):
    """dL/dt0 against central differences of c · z(t1) in t0, to O(h⁴)."""
    t0, t1, n_steps = setting.t0, setting.t1, steps_for(setting.t0, setting.t1)
    z0, theta, c = random_problem(rng, setting)
    z1 = integrate(dynamics, z0, theta, [t0, t1], n_steps)[-1]
    at_t1 = np.vdot(c, dynamics(z1, theta, t1))  # λ(t1)·f(z(t1), θ, t1)

    def end_state(start):
        return integrate(dynamics, z0, theta, np.array([start[0], t1]), n_steps)[-1]

    def grade(fn):
        answer = call(fn, dynamics, z1, theta, t0, t1, c, n_steps)
        expected = fd_vjp(end_state, np.array([t0]), c)[0]
        # dL/dt0 may be near 0 by chance; differences are measured against the size of λ(t1)·f.
        expect_close("dL/dt0", answer, expected, H4_TOL, floor=np.linalg.norm(c) * np.linalg.norm(
            dynamics(z1, theta, t1)), mistakes=[
            Mistake(WRONG_SIGN, "dL/dt0 = −λ(t0)·f(z0, θ, t0): starting later from the same z0 leaves less "
                                "time to move. The comment under the derivation gets +λ(t0)·f, the "
                                "negative", lambda: -expected),
            Mistake(TIME_DEPENDENCE, "−λ(t1)·f(z(t1), θ, t1) is only where a_t starts; f depends on t, so "
                                     "integrate da_t/dt = −λ ∂f/∂t back to t0", lambda: -at_t1)])

    return Case(describe(setting, n_steps), grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` (one state and batches, one span backwards)."""
    return [start_time_case(rng, setting) for setting in SETTINGS]
