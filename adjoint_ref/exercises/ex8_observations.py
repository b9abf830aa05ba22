"""Exercise 8: a loss on several observation times — λ jumps at each of them.

Graded by `_order.grade_order` with n and 2n steps per interval against the converged gradient
(backprop through a forward RK4 solve with FINE·2n steps per interval, which also gives the zs);
a correct answer is the package's continuous adjoint (`adjoint.adjoint_gradients`) with the same steps.
As in exercise 4, the dynamics vary, a last case repeats the first one's times with new values, f is
evaluated once per RK4 stage inside make_vjp on every interval, and the package's gradient routes
refuse to run for the learner's code (and for the learner's exercise 4, which it calls).
"""
import autograd.numpy as anp
import numpy as np

from ..adjoint import adjoint_gradients
from ..api import gradients
from ..rk4 import integrate
from ._common import (ARRAY_DYNAMICS, MISSING_JUMP, SETTINGS, WRONG_SIGN, Case, Mistake, call, describe, outputs,
                      random_problem, steps_for)
from ._guard import GRADIENT_ROUTES, Tally, audit_stages
from ._order import FINE, Output, grade_order

TITLE = "several observation times: the jumps in λ"
EQUATIONS = "eqs. (11)–(12), one interval at a time"
SUMMARY = "dL/dz0 and dL/dθ for L(z(t0), …, z(tN)): λ jumps by ∂L/∂z(t_i) at every observation time"
FUNCTION = "adjoint_with_observations"
SKELETON = '''import numpy as np

try:  # your own exercise 4, from the file beside this one
    from ex4_backward_pass import backward_pass
except ModuleNotFoundError as missing:
    if missing.name != "ex4_backward_pass":
        raise
    raise ImportError("exercise 8 builds on your exercise 4: put ex4_backward_pass.py in this folder "
                      "(adjoint-ref exercise start 4 FOLDER writes it)") from missing


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
BLOCKED = GRADIENT_ROUTES
ALLOWED = ("Exercise 8 may import numpy, autograd, adjoint_ref.rk4, adjoint_ref.adjoint.augmented_dynamics and "
           "your own exercise 4; no gradient of the package.")
MEANINGS = ("λ(ts[0]) + ∂L/∂z(ts[0]): λ carried back interval by interval from λ(ts[N]) = ∂L/∂z(ts[N]), "
            "jumping by ∂L/∂z(ts[i]) at every earlier observation time",
            "the sum over the intervals of a_θ(ts[i−1]) = −∫_{ts[i]}^{ts[i−1]} λ ∂f/∂θ dt, with that λ")


def observation_times(rng, setting, count):
    """`count` times from t0 to t1: the ends and count − 2 random times in between, in order."""
    inside = np.sort(rng.uniform(0.1, 0.9, size=count - 2))
    return setting.t0 + (setting.t1 - setting.t0) * np.concatenate([[0.0], inside, [1.0]])


def observations_case(rng, setting, count, dyn, again=""):
    """dL/dz0 and dL/dθ for L = Σ_i c_i · z(t_i) with n and 2n steps per interval: errors and order of RK4."""
    dynamics = dyn.f
    z0, theta, _ = random_problem(rng, setting, dyn)
    ts = observation_times(rng, setting, count)
    n_steps = steps_for(0.0, np.max(np.abs(np.diff(ts))))
    cs = rng.normal(size=(count,) + z0.shape)
    zs = integrate(dynamics, z0, theta, ts, 2 * FINE * n_steps)

    def continuous(dL_dzs, n):  # the package's continuous adjoint, jumps included
        dL_dz0, dL_dtheta, _ = adjoint_gradients(dynamics, zs, theta, ts, n, dL_dzs)
        return dL_dz0, dL_dtheta.reshape(theta.shape)

    def exact():
        converged = gradients(lambda zs: anp.sum(cs * zs), dynamics, z0, theta, ts, 2 * FINE * n_steps, "backprop")
        return converged.z0, converged.theta

    def mistakes(k):
        """The known mistakes in output k (0: dL/dz0, 1: dL/dθ): the right method with wrong jumps ∂L/∂zs."""
        wrong_jumps = [  # (tag, advice, the ∂L/∂zs that make the right method reproduce the mistake)
            (MISSING_JUMP, "λ jumps by +∂L/∂z(t_i) at every observation time it passes on the way back",
             np.concatenate([0 * cs[:-1], cs[-1:]])),
            (WRONG_SIGN, "at t_i, λ(t_i⁻) = λ(t_i⁺) + ∂L/∂z(t_i): the jump is added",
             np.concatenate([-cs[:-1], cs[-1:]])),
            (WRONG_TIME, "after solving back from ts[i] to ts[i−1], add ∂L/∂z(ts[i−1]), not ∂L/∂z(ts[i])",
             np.concatenate([cs[1:], cs[-1:]]))]

        def known(converged):
            jumps = [Mistake(tag, advice, lambda dL_dzs=dL_dzs: continuous(dL_dzs, n_steps)[k])
                     for tag, advice, dL_dzs in wrong_jumps]
            if k == 1:
                return jumps
            return [Mistake(MISSING_JUMP, "the loss sees z(t0) = z0 itself too: add ∂L/∂z(t0) to λ(t0) at the end",
                            lambda: converged - cs[0])] + jumps
        return known

    def grade(fn):
        f = Tally(dynamics)
        spans = [(ts[i], ts[i - 1]) for i in range(len(ts) - 1, 0, -1)]
        return grade_order(
            lambda n: outputs(call(fn, f, zs, theta, ts, cs, n), ["dL_dz0", "dL_dtheta"]),
            exact, lambda n: [continuous(cs, n)],
            [Output("dL/dz0", 0.0, mistakes(0), MEANINGS[0]), Output("dL/dθ", 0.0, mistakes(1), MEANINGS[1])],
            n_steps, audit=lambda n: audit_stages(f.take(), spans, n))

    return Case(f"{describe(setting, dyn=dyn)}, {count} observation times, {n_steps} and {2 * n_steps} steps per "
                f"interval{again}", grade)


def cases(rng):
    """The four settings of `_common.SETTINGS` with 3 to 6 observation times and the three dynamics in turn,
    then the first setting again with new values (an answer cached by span fails)."""
    return ([observations_case(rng, setting, count, ARRAY_DYNAMICS[count % 3])
             for count, setting in enumerate(SETTINGS, start=3)]
            + [observations_case(rng, SETTINGS[0], 3, ARRAY_DYNAMICS[0], "; case 1's span again, new values")])
