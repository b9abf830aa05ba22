"""Exercise 1: one classical RK4 step, the building block of the forward pass (eq. 3).

Graded against outside arithmetic, never against the package's own step (the function a learner
rewrites): on dz/dt = A z one RK4 step is exactly the degree-4 Taylor polynomial of e^{hA} applied
to z; on a t-dependent network it must equal the step written out below from RK4's Butcher tableau;
on dz/dt = θ cos(t) z (exact solution known) its local error must fall like h⁵; and chained over
several steps (each call a step of its own: a slope kept from the previous call fails) it must give
the tableau's steps, with f evaluated four times per step at t, t + h/2, t + h/2, t + h. The
package's own step (`rk4.rk4_step`, `tableau.rk_step`, and every solver built on them) refuses to run
for the learner's code.
"""
import autograd.numpy as anp
import numpy as np

from ._common import (EXACT_TOL, POLYNOMIAL, ROTATION, TIME_DEPENDENCE, WRONG_DIRECTION, Case, Mistake, Wrong, call,
                      carries_float32, dynamics, expect_close, numeric)
from ._guard import Tally, compare_times, float32_seen, rk4_times

TITLE = "one RK4 step"
EQUATIONS = "eq. (3)"
SUMMARY = "advance dz/dt = f(z, θ, t) from t to t + h with the classical Runge–Kutta formula"
FUNCTION = "rk4_step"
SKELETON = '''

def rk4_step(f, z, theta, t, h):
    """One classical Runge–Kutta step of dz/dt = f(z, theta, t) from time t to time t + h.

    f(z, theta, t) returns dz/dt with the shape of z; z is one state (D,) or a batch (B, D);
    h may be negative (a step backwards in time). Returns the new state, shaped like z.
    """
    raise NotImplementedError("exercise 1: write the body of rk4_step")
'''

EULER = "Euler step"
REUSED_SLOPE = "a slope kept from the previous call"
BLOCKED = ("adjoint_ref.rk4.rk4_step", "adjoint_ref.tableau.rk_step")
ALLOWED = "Exercise 1 may import numpy and autograd, nothing from adjoint_ref."

# The classical RK4 method as its Butcher tableau (A, b, c): stage i evaluates f at time t + c_i·h
# and state z + h·Σ_j a_ij·k_j; the step is z + h·Σ_i b_i·k_i.
RK4_A = ((), (1 / 2,), (0, 1 / 2), (0, 0, 1))
RK4_B = (1 / 6, 1 / 3, 1 / 3, 1 / 6)
RK4_C = (0, 1 / 2, 1 / 2, 1)


def tableau_step(f, z, theta, t, h):
    """One RK4 step from t to t + h, read off the Butcher tableau above (the grader's reference):
    k_i = f(z + h Σ_j a_ij k_j, θ, t + c_i h), z(t + h) = z + h Σ_i b_i k_i."""
    slopes = []
    for row, c in zip(RK4_A, RK4_C):
        slopes.append(f(z + h * sum(a * k for a, k in zip(row, slopes)), theta, t + c * h))
    return z + h * sum(b * k for b, k in zip(RK4_B, slopes))


def taylor_case(rng, dim, h):
    """dz/dt = A z: the step must be (I + hA + (hA)²/2 + (hA)³/6 + (hA)⁴/24) z, to round-off."""
    A, z = rng.normal(size=(dim, dim)) / np.sqrt(dim), rng.normal(size=dim)

    def taylor(step):
        term, total = np.eye(dim), np.eye(dim)
        for k in range(1, 5):
            term = term @ (step * A) / k
            total = total + term
        return total @ z

    def grade(fn):
        f = Tally(lambda z, A, t: anp.dot(A, z))
        answer = call(fn, f, z, A, 0.0, h)
        expect_close("z(t + h)", answer, taylor(h), EXACT_TOL, float32=in_float32(answer, z, f), mistakes=[
            Mistake(WRONG_DIRECTION, "the step must go from t to t + h, with h's own sign", lambda: taylor(-h)),
            Mistake(EULER, "z + h·f(z) is Euler's first-order step; RK4 averages four slopes "
                           "with weights 1/6, 2/6, 2/6, 1/6", lambda: z + h * A @ z)])

    return Case(f"dz/dt = A z, D={dim}, h={h:g}: the degree-4 Taylor polynomial of e^(hA) z", grade)


def network_case(rng, shape, t, h):
    """A t-dependent tanh network: the step must equal `tableau_step` to round-off."""
    dim = shape[-1]
    z, theta = rng.normal(size=shape), rng.normal(size=(dim + 1, dim))

    def frozen(z, theta, s):  # f with its time argument stuck at t
        return dynamics(z, theta, t)

    def grade(fn):
        f = Tally(dynamics)
        answer = call(fn, f, z, theta, t, h)
        try:
            compare(f, answer)
        except Wrong as err:
            times = stage_check(f.calls, t, h)
            raise Wrong(f"{err}; {times}" if times else str(err)) from None
        if stage_check(f.calls, t, h):
            raise Wrong(stage_check(f.calls, t, h))

    def compare(f, answer):
        expect_close("z(t + h)", answer, tableau_step(dynamics, z, theta, t, h), EXACT_TOL,
                     float32=in_float32(answer, z, f), mistakes=[
            Mistake(TIME_DEPENDENCE, "the four stages are evaluated at t, t + h/2, t + h/2 and t + h, "
                                     "not all at t", lambda: tableau_step(frozen, z, theta, t, h)),
            Mistake(WRONG_DIRECTION, "the step must go from t to t + h, with h's own sign",
                    lambda: tableau_step(dynamics, z, theta, t, -h))])

    return Case(f"tanh network, z of shape {shape}, t={t:g}, h={h:g}", grade)


def stage_check(calls, t, h):
    """'' if the evaluations of f `calls` are one RK4 step's, four at t, t + h/2, t + h/2, t + h; else why not."""
    return compare_times([c.t for c in calls], rk4_times(t, t + h, 1), "evaluations of f", "one RK4 step: four stages",
                         "each call computes its own four slopes, at t, t + h/2, t + h/2 and t + h")


def in_float32(answer, z, *tallies):
    """Whether float32 went into a step: f got a float32 state, or the increment z(t + h) − z is a float32
    number (to the round-off of adding it to z)."""
    try:
        step = np.asarray(answer, dtype=np.float64) - z
    except (TypeError, ValueError):
        return False
    slack = 4 * np.finfo(float).eps * max(np.max(np.abs(z)), np.max(np.abs(step), initial=0.0))
    return float32_seen(*tallies) or (step.shape == z.shape and carries_float32(step, slack))


def chained_case(rng, shape, t, h, dyn, n_steps=4):
    """n_steps calls in a row, each from the state the last one returned, on the t-dependent f of `dyn`:
    each step must equal the tableau's, with f evaluated at RK4's four stage times. A step that keeps
    a slope from the previous call (k1 = the last k4) errs by O(h²) per step and fails here."""
    dim = shape[-1]
    z0, theta = rng.normal(size=shape), dyn.draw(rng, dim)

    def grade(fn):
        f, z, gap = Tally(dyn.f), z0, 0.0
        for k in range(n_steps):
            start = t + k * h
            answer = call(fn, f, z, theta, start, h)
            calls = f.take()
            counted = stage_check(calls, start, h)
            try:
                gap = max(gap, expect_close(f"z after step {k + 1}", answer, tableau_step(dyn.f, z, theta, start, h),
                                            EXACT_TOL, float32=in_float32(answer, z, f)))
            except Wrong as err:
                if k and counted:
                    raise Wrong(f"step {k + 1} of {n_steps} chained: {REUSED_SLOPE}? {counted}") from None
                raise
            if counted:
                raise Wrong(f"step {k + 1} of {n_steps} chained: {counted}")
            z = numeric("z(t + h)", answer, z.shape)
        return f"{n_steps} chained steps equal the tableau's to {gap:.0e}, four evaluations of f each"

    return Case(f"{n_steps} steps chained, z of shape {shape}, t={t:g}, h={h:g}, f = {dyn.name}", grade)


def order_case(theta=0.9, t=0.5, steps=(0.2, 0.1, 0.05)):
    """dz/dt = θ cos(t) z, z(t + h) = z e^{θ(sin(t + h) − sin t)}: the one-step error must fall like h⁵."""
    z = np.array([1.0, -0.5])

    def grade(fn):
        errors = []
        for h in steps:
            step = call(fn, lambda z, th, s: th * anp.cos(s) * z, z, theta, t, h)
            exact = z * np.exp(theta * (np.sin(t + h) - np.sin(t)))
            errors.append(np.linalg.norm(numeric("z(t + h)", step, z.shape) - exact))
        orders = np.diff(np.log(errors)) / np.diff(np.log(steps))
        # An order-4 method errs by C·h⁵ + O(h⁶) in one step; at this t and these h, RK4's slopes
        # are 4.98 and 4.99. A method of lower order (e.g. stages all at time t) gives 2 to 4.
        if not np.all(np.abs(orders - 5) < 0.5):
            raise Wrong(f"the one-step error falls like h^{np.round(orders, 1)} as h halves; "
                        "RK4's falls like h^5")
        return f"the one-step error falls like h^{orders[-1]:.2f}"

    return Case(f"dz/dt = θ cos(t) z, exact solution known: one-step error at h = {steps}", grade)


def cases(rng):
    """Taylor polynomial (D=1, 3), the tableau's step on a network (vector, batch, h < 0), the h⁵ order,
    steps chained (forwards and backwards)."""
    return [taylor_case(rng, 3, 0.1), taylor_case(rng, 1, -0.3), network_case(rng, (2,), 0.3, 0.2),
            network_case(rng, (4, 3), 1.1, -0.15), order_case(), chained_case(rng, (3,), 0.2, 0.25, POLYNOMIAL),
            chained_case(rng, (2, 2), 1.0, -0.3, ROTATION)]
