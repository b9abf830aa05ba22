"""Exercise 8: a loss on several observation times — λ jumps at each of them.

Graded against backprop through the forward RK4 solve (`gradients(method="backprop")`) to O(h⁴).
"""
import autograd.numpy as anp
import numpy as np

from ..api import gradients
from ..rk4 import integrate
from ._common import (H4_TOL, MISSING_JUMP, SETTINGS, WRONG_SIGN, Case, Mistake, call, describe, dynamics,
                      expect_close, outputs, random_problem, steps_for)
from .solutions.ex8_observations import adjoint_with_observations

TITLE = "several observation times: the jumps in λ"
EQUATIONS = "eqs. (11)–(12), one interval at a time"
SUMMARY = "dL/dz0 and dL/dθ for L(z(t0), …, z(tN)): λ jumps by ∂L/∂z(t_i) at every observation time"
FUNCTION = "adjoint_with_observations"
SKELETON = '''import numpy as np

from adjoint_ref.exercises.solutions.ex4_backward_pass import backward_pass  # or your own from exercise 4


def adjoint_with_observations(f, zs, theta, ts, dL_dzs, n_steps):
    """dL/dz0 and dL/dθ for a loss L(zs) on the states zs[i] = z(ts[i]) at all the observation times.

    ts holds N + 1 strictly monotone times (decreasing is allowed); zs (shape (N + 1,) + z.shape)
    is the forward solution at those times, zs[0] = z0; dL_dzs[i] = ∂L/∂z(ts[i]). Each interval
    [ts[i], ts[i+1]] is solved with n_steps equal RK4 steps; theta is one array.
    Returns (dL_dz0, dL_dtheta), shaped like zs[0] and theta.
    """
    raise NotImplementedError("exercise 8: write the body of adjoint_with_observations")
'''

WRONG_TIME = "jump at the wrong time"


def observation_times(rng, setting, count):
    """`count` times from t0 to t1: the ends and count − 2 random times in between, in order."""
    inside = np.sort(rng.uniform(0.1, 0.9, size=count - 2))
    return setting.t0 + (setting.t1 - setting.t0) * np.concatenate([[0.0], inside, [1.0]])


def observations_case(rng, setting, count):
    """dL/dz0 and dL/dθ against backprop for L = Σ_i c_i · z(t_i), to O(h⁴)."""
    z0, theta, _ = random_problem(rng, setting)
    ts = observation_times(rng, setting, count)
    n_steps = steps_for(0.0, np.max(np.abs(np.diff(ts))))
    cs = rng.normal(size=(count,) + z0.shape)
    zs = integrate(dynamics, z0, theta, ts, n_steps)
    wrong_inputs = [  # (tag, advice, the ∂L/∂zs that make the reference answer reproduce the mistake)
        (MISSING_JUMP, "λ jumps by +∂L/∂z(t_i) at every observation time it passes on the way back",
         np.concatenate([0 * cs[:-1], cs[-1:]])),
        (WRONG_SIGN, "at t_i, λ(t_i⁻) = λ(t_i⁺) + ∂L/∂z(t_i): the jump is added",
         np.concatenate([-cs[:-1], cs[-1:]])),
        (WRONG_TIME, "after solving back from ts[i] to ts[i−1], add ∂L/∂z(ts[i−1]), not ∂L/∂z(ts[i])",
         np.concatenate([cs[1:], cs[-1:]]))]

    def mistakes(part):
        """The known mistakes in output `part` (0: dL/dz0, 1: dL/dθ), each computed only when needed."""
        return [Mistake(tag, advice, lambda dL_dzs=dL_dzs: adjoint_with_observations(
            dynamics, zs, theta, ts, dL_dzs, n_steps)[part]) for tag, advice, dL_dzs in wrong_inputs]

    def grade(fn):
        dL_dz0, dL_dtheta = outputs(call(fn, dynamics, zs, theta, ts, cs, n_steps), ["dL_dz0", "dL_dtheta"])
        expected = gradients(lambda zs: anp.sum(cs * zs), dynamics, z0, theta, ts, n_steps, "backprop")
        expect_close("dL/dz0", dL_dz0, expected.z0, H4_TOL, [
            Mistake(MISSING_JUMP, "the loss sees z(t0) = z0 itself too: add ∂L/∂z(t0) to λ(t0) at the end",
                    lambda: expected.z0 - cs[0])] + mistakes(0))
        expect_close("dL/dθ", dL_dtheta, expected.theta, H4_TOL, mistakes(1))

    return Case(f"{describe(setting, n_steps)} per interval, {count} observation times", grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` with 3 to 6 observation times."""
    return [observations_case(rng, setting, count) for count, setting in enumerate(SETTINGS, start=3)]
