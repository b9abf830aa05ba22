"""Mutation tests: break the code one place at a time and watch `equations` and `check` say FAIL.

Each mutant is a small semantic change made with monkeypatch (a flipped sign, a dropped term or jump,
a lower-order rule, an index off by one), never a text edit. A mutant is caught when the table of
`equations` (through `equations.checked_rows`) or `check` (every method against backprop, `check.check`)
reports a failure; a mutant of an equation must fail the row of that equation.
`python tests/test_mutants.py` prints the whole table: each mutant and the rows that caught it.

Some mutants break code that `equations` and `check` are not meant to judge (the step-size controller,
`check`'s own decisions); each of those names the tests that must fail instead, and the table says
which do.

Cost: each mutant runs `equations` (at h and h/2) on a tiny problem (a 2-3-2 MLP, two states, three
observation times, 4 RK4 steps) and `check` at 10 steps: about a second each; the rows of code paths
the equations do not run (running cost, dopri5, drift: OTHER_ROWS) only for the mutants they are meant
to catch, and for the table. A mutant with tests of its own runs those tests only.
"""
import functools
import os
import re

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import jacobian
from autograd.extend import defjvp_argnum, defvjp_argnums

import test_check
import test_controller
from adjoint_ref import (adaptive, adjoint, api, discrete_adjoint, finite_differences, lagrangian, methods, rk4,
                         running_cost, sensitivity)
from adjoint_ref._impl import checkpoints, drift as drifting
from adjoint_ref.diagnostics import check as check_module, equations
from adjoint_ref.problems import models
from adjoint_ref.diagnostics.check import check
from adjoint_ref.problems.models import default_problem

# Broken solvers can make the backward z drift; the drift warning is right, but not what is counted here.
pytestmark = pytest.mark.filterwarnings("ignore::adjoint_ref.adjoint.AdjointDriftWarning")

CHECK_TOL = 1e-6  # `adjoint-ref check`'s default tolerance
CHECK_STEPS = 10


def tiny_problem():
    """A 2-3-2 t-dependent MLP, a batch of two states, three observation times on [0, 1]."""
    return default_problem(hidden=3, batch=2, n_times=3)


OTHER_ROWS = {"∫ g dt", "dopri5", "drift", "auto"}  # the labels of the running-cost rows and `equations.other_rows`


def failures(problem=None, every_row=True):
    """(labels of failing `equations` rows, whether `check` fails) on `problem` (default: tiny); every_row=False
    leaves out the rows labelled OTHER_ROWS (the running cost's and `equations.other_rows`)."""
    problem = tiny_problem() if problem is None else problem
    rows = (equations.checked_rows(problem, 4, log=lambda text: None) if every_row else
            equations.rows_at_two_steps(problem, 4, log=lambda text: None, running_cost=False))
    failed = {row.equation for row in rows if not equations.passed(row)}
    report = check(problem.loss, problem.f, problem.z0, problem.theta, problem.ts, CHECK_STEPS, CHECK_TOL)
    return failed, not report.ok


# ------------------------------------------------------------------ how to break things

def patched_pullback(module, change):
    """Replace `module.vjp_of` by one whose pullback's (λf_z, λf_θ, λf_t) go through `change`."""
    original = module.vjp_of

    def vjp_of(f):
        f_and_pullback = original(f)

        def mutated(z, theta, t):
            dz_dt, pullback = f_and_pullback(z, theta, t)
            return dz_dt, lambda lam: change(*pullback(lam), f=f, z=z, theta=theta, t=t, lam=lam)

        return mutated

    return vjp_of


def untransposed(fz, ftheta, ft, f, z, theta, t, lam):
    """J λ instead of λ J (the transpose forgotten); a scalar function (a running cost) is left alone."""
    if np.size(lam) != z.size:
        return fz, ftheta, ft
    J = jacobian(lambda x: f(x.reshape(z.shape), theta, t))(np.ravel(z)).reshape(z.size, z.size)
    return (J @ np.ravel(lam)).reshape(z.shape), ftheta, ft


def kutta3_step(f, z, theta, t, h):
    """Kutta's third-order rule in place of RK4."""
    k1 = f(z, theta, t)
    k2 = f(z + (h / 2) * k1, theta, t + h / 2)
    k3 = f(z - h * k1 + 2 * h * k2, theta, t + h)
    return z + (h / 6) * (k1 + 4 * k2 + k3)


def frozen_time_step(f, z, theta, t, h):
    """RK4 with every stage evaluated at the step's start time t."""
    k1 = f(z, theta, t)
    k2 = f(z + (h / 2) * k1, theta, t)
    k3 = f(z + (h / 2) * k2, theta, t)
    k4 = f(z + h * k3, theta, t)
    return z + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


def with_dL_dzs(function, change):
    """`function(f, zs, theta, ts, n_steps, dL_dzs, ...)` called with ∂L/∂zs passed through `change`."""
    @functools.wraps(function)
    def mutated(f, zs, theta, ts, n_steps, dL_dzs, *args, **kwargs):
        return function(f, zs, theta, ts, n_steps, change(np.array(dL_dzs)), *args, **kwargs)
    return mutated


def zero_first(dL_dzs):
    dL_dzs[0] = 0.0
    return dL_dzs


def zero_middle(dL_dzs):
    dL_dzs[1:-1] = 0.0
    return dL_dzs


def shifted_states(function):
    """`rk4.step_states` with its list shifted by one: z_k read where z_{k+1} was meant."""
    def mutated(*args):
        states = function(*args)
        return states[1:] + states[-1:]
    return mutated


def sensitivity_without_theta_source(f, z_shape, n_theta):
    """dS/dt = ∂f/∂z S, the source term ∂f/∂θ of the variational equation dropped."""
    n = int(np.prod(z_shape))
    vjp_of_f = sensitivity.vjp_of(f)
    basis = np.eye(n).reshape((n,) + tuple(z_shape))

    def ds_dt(s, theta, t):
        dz_dt, pullback = vjp_of_f(s[:n].reshape(z_shape), theta, t)
        rows = np.array([np.ravel(pullback(e)[0]) for e in basis])
        return np.concatenate([np.ravel(dz_dt), np.ravel(rows @ s[n:].reshape(n, n + n_theta))])

    return ds_dt


def sensitivity_t0_ignoring_observation(original):
    """forward sensitivity's dL/dt0 computed as if ∂L/∂z(t0) were 0 (its other outputs unchanged)."""
    def solve(f, z0, theta, ts, n_steps):
        zs, pullback = original(f, z0, theta, ts, n_steps)

        def mutated(dL_dzs):
            g_z0, g_theta, g_ts = pullback(dL_dzs)
            g_ts = g_ts.copy()
            g_ts[0] -= np.vdot(np.ravel(dL_dzs[0]), np.ravel(f(z0, theta, ts[0])))
            return g_z0, g_theta, g_ts

        return zs, mutated
    return solve


def transpose_without_h(original):
    def mutated(*args):
        lam_z, lam_theta, lam_t, lam_h = original(*args)
        return lam_z, lam_theta, lam_t, 0.0 * lam_h
    return mutated


def trapezoid(values, t):
    """The trapezoidal rule (order 2) in place of Simpson's."""
    h = (t[:, -1] - t[:, 0]) / (t.shape[1] - 1)
    inner = np.einsum("mk...->m...", values[:, 1:-1])
    total = inner + 0.5 * (values[:, 0] + values[:, -1])
    return total * np.reshape(h, (-1,) + (1,) * (np.ndim(total) - 1))


def mlp_vjp_without(term):
    """The hand-written MLP VJP with one term removed: "slope" (tanh's 1 − h²) or "c1_time" (t·g_b1)."""
    def vjp_maker(argnums, ans, args, kwargs):
        z, theta, t = args
        hidden = models.mlp_hidden(z, theta, t)
        slope = 1.0 if term == "slope" else 1 - hidden ** 2

        def vjp(g):
            g_pre = (g @ theta["W2"].T) * slope
            rows_pre, rows_g = g_pre.reshape(-1, g_pre.shape[-1]), g.reshape(-1, g.shape[-1])
            g_b1 = rows_pre.sum(0)
            grads = {0: g_pre @ theta["W1"].T,
                     1: {"W1": z.reshape(-1, z.shape[-1]).T @ rows_pre, "b1": g_b1,
                         "c1": 0 * g_b1 if term == "c1_time" else t * g_b1,
                         "W2": hidden.reshape(-1, hidden.shape[-1]).T @ rows_g, "b2": rows_g.sum(0)},
                     2: g_b1 @ theta["c1"]}
            return tuple(grads[argnum] for argnum in argnums)

        return vjp
    return vjp_maker


def mlp_jvp_without_slope(argnum, tangent, ans, args, kwargs):
    """The hand-written MLP JVP with tanh's slope 1 − h² dropped for z and t."""
    z, theta, t = args
    hidden = models.mlp_hidden(z, theta, t)
    flat = anp.ones_like(hidden)  # in place of the slope 1 − h², keeping its shape
    if argnum == 0:
        return ((tangent @ theta["W1"]) * flat) @ theta["W2"]
    if argnum == 2:
        return (tangent * theta["c1"] * flat) @ theta["W2"]
    d_pre = z @ tangent["W1"] + t * tangent["c1"] + tangent["b1"]
    return (d_pre * (1 - hidden ** 2)) @ theta["W2"] + hidden @ tangent["W2"] + tangent["b2"]


@pytest.fixture
def mlp_derivatives():
    """Lets a mutant re-register the MLP's VJP/JVP, and puts the hand-written ones back afterwards."""
    yield
    defvjp_argnums(models.mlp_dynamics, models._mlp_vjp)
    defjvp_argnum(models.mlp_dynamics, models._mlp_jvp)


def negated(function):
    @functools.wraps(function)
    def mutated(*args, **kwargs):
        return -function(*args, **kwargs)
    return mutated


def term_negated(function, index):
    @functools.wraps(function)
    def mutated(*args, **kwargs):
        terms = list(function(*args, **kwargs))
        terms[index] = -terms[index]
        return tuple(terms)
    return mutated


def eq7_sign(lam, lam_dot, z, t):
    """Eq. (7) with the sign of ∫ z λ̇ dt flipped."""
    return lagrangian.boundary(np.sum(lam * z, axis=-1)) + lagrangian.integral(np.sum(z * lam_dot, axis=-1), t)


def eq9_sign(lam, lam_dot, S, lam_fz, lam_ftheta, t):
    """Eq. (9) with the sign of ∫ λ ∂f/∂θ dt flipped."""
    return (lagrangian.boundary(lagrangian.row_times(lam, S))
            - lagrangian.integral(lagrangian.row_times(lam_dot + lam_fz, S), t) + lagrangian.integral(lam_ftheta, t))


def eq8_without_boundary(lam, lam_dot, S, lam_df_dtheta, t):
    """Eq. (8) with the boundary term [λ dz/dθ] dropped."""
    return -lagrangian.integral(lagrangian.row_times(lam_dot, S) + lam_df_dtheta, t)


def dL_dtn_after_jump(lam, f):
    """dL/dt_i from λ(t_i⁻) alone instead of the jump λ(t_i⁻) − λ(t_i⁺)."""
    return np.sum(lam[:, -1] * f[:, -1], axis=-1)


def second_order_derivative(values, t):
    """Central differences of order 2 (one-sided at the ends) in place of the five-point stencils."""
    h = (t[:, -1] - t[:, 0]) / (t.shape[1] - 1)
    d = np.gradient(values, axis=1)
    return d / np.reshape(h, (-1,) + (1,) * (np.ndim(d) - 1))


def fd_one_sided(fun, x, g, steps=None):
    """Forward differences (order 1) in place of central ones."""
    steps = finite_differences.value_steps(x) if steps is None else steps
    base, out = fun(x), np.zeros(x.size)
    for i in range(x.size):
        up = x.copy()
        up[i] += steps[i]
        out[i] = np.vdot(g, fun(up) - base) / (up[i] - x[i])
    return out


def negated_cost(with_cost):
    """`running_cost.with_cost` integrating q' = −g: the running cost enters the extended state negated."""
    def mutated(f, g, z_shape):
        return with_cost(f, lambda z, theta, t: -g(z, theta, t), z_shape)
    return mutated


def loose_backward_tolerances(adjoint_method):
    """The dopri5 adjoint with its backward pass at rtol = atol = 1e-4, whatever adjoint_rtol and adjoint_atol say."""
    def mutated(f, z0, theta, ts, tol, stats=None):
        return adjoint_method(f, z0, theta, ts, tol._replace(adjoint_rtol=1e-4, adjoint_atol=1e-4), stats)
    return mutated


def auto_ignored(function):
    """`adjoint.adjoint_gradients` with checkpoints="auto" taken as None: no re-run after a drift."""
    @functools.wraps(function)
    def mutated(*args, checkpoints=None, **kwargs):
        return function(*args, checkpoints=None if checkpoints == "auto" else checkpoints, **kwargs)
    return mutated


def with_order(step_factor, change):
    """`adaptive.step_factor` with the order passed through `change`."""
    return lambda ratio, order: step_factor(ratio, change(order))


def tolerances_swapped(error_ratio):
    """`adaptive.error_ratio` with rtol and atol exchanged."""
    return lambda z, z_new, error, rtol, atol: error_ratio(z, z_new, error, atol, rtol)


def euclidean(x):
    """The Euclidean norm in place of the RMS norm."""
    return float(np.linalg.norm(x))


def ratio_inverted(order_verdict):
    """`check._order_verdict` with the gaps at n and 2n steps exchanged (the ratio turned upside down)."""
    return lambda method, gap, refined_gap, tol, n_steps: order_verdict(method, refined_gap, gap, tol, n_steps)


def within_tol(differences, tol):
    """`check.exceeding` inverted: the differences within tol."""
    return [key for key, difference in differences.items() if difference <= tol]


# name → (what to patch: list of (object, attribute, replacement) or a callable(monkeypatch),
#         the equations rows one of which must fail (None: caught by check alone is enough),
#         and optionally the tests that must fail (then only those are run under pytest))
MUTANTS = {
    # the solver
    "RK4 → Kutta's third-order rule": ([(rk4, "rk4_step", kutta3_step)], {"(3)"}),
    "RK4 stages all at the step's start time": ([(rk4, "rk4_step", frozen_time_step)], {"(3)"}),
    # eq. (11) and the continuous adjoint
    "eq. (11) sign: dλ/dt = +λ ∂f/∂z": ([(adjoint, "vjp_of", patched_pullback(
        adjoint, lambda fz, ftheta, ft, **_: (-fz, ftheta, ft)))], {"(11)"}),
    "eq. (11) untransposed: J λ for λ J": ([(adjoint, "vjp_of", patched_pullback(adjoint, untransposed))], {"(11)"}),
    "eq. (12) sign: da_θ/dt = +λ ∂f/∂θ": ([(adjoint, "vjp_of", patched_pullback(
        adjoint, lambda fz, ftheta, ft, **_: (fz, -ftheta, ft)))], {"(12)"}),
    "time gradient sign: da_t/dt = +λ ∂f/∂t": ([(adjoint, "vjp_of", patched_pullback(
        adjoint, lambda fz, ftheta, ft, **_: (fz, ftheta, -ft)))], {"dL/dts"}),
    "adjoint: λ's jump at t0 dropped": ([(adjoint, "adjoint_gradients", with_dL_dzs(
        adjoint.adjoint_gradients, zero_first))], {"z(t0)"}),
    "adjoint: jumps at intermediate times dropped": ([(adjoint, "adjoint_gradients", with_dL_dzs(
        adjoint.adjoint_gradients, zero_middle))], {"(11)", "(12)"}),
    "checkpoints: z read one step off": ([(checkpoints, "step_states", shifted_states(rk4.step_states))], {"(12)"}),
    # the discrete adjoint
    "discrete adjoint: ∂/∂h of the step dropped": ([(discrete_adjoint, "step_transpose",
                                                    transpose_without_h(discrete_adjoint.step_transpose))], {"dL/dts"}),
    "discrete adjoint: λ's jump at t0 dropped": ([(discrete_adjoint, "discrete_adjoint_gradients", with_dL_dzs(
        discrete_adjoint.discrete_adjoint_gradients, zero_first))], {"z(t0)"}),
    "discrete adjoint: λ ∂f/∂θ with the wrong sign": ([(discrete_adjoint, "vjp_of", patched_pullback(
        discrete_adjoint, lambda fz, ftheta, ft, **_: (fz, -ftheta, ft)))], {"(12)"}),
    # forward sensitivities
    "sensitivity: source ∂f/∂θ dropped": ([(sensitivity, "sensitivity_dynamics", sensitivity_without_theta_source)],
                                          {"(12)"}),
    "sensitivity: dL/dt0 ignores ∂L/∂z(t0)": ([(methods.METHODS, "forward_sensitivity",
                                                sensitivity_t0_ignoring_observation(sensitivity.solve))], {"z(t0)"}),
    # finite differences
    "finite differences: one-sided": ([(finite_differences, "fd_vjp", fd_one_sided)], {"(12)", "dL/dts"}),
    # the Lagrangian, eq. by eq.
    "eq. (4) sign: ψ = L + ∫ λF": ([(lagrangian, "eq4_lagrangian", lambda loss, lam, F, t: loss + lagrangian.integral(
        np.sum(lam * F, axis=-1), t))], {"(4)–(5)"}),
    "eq. (6) sign of ∫ λż": ([(lagrangian, "eq6_split", term_negated(lagrangian.eq6_split, 0))], {"(6)–(7)"}),
    "eq. (7) sign of ∫ z λ̇": ([(lagrangian, "eq7_by_parts", eq7_sign)], {"(6)–(7)"}),
    "eq. (8) boundary term dropped": ([(lagrangian, "eq8_constraint_derivative", eq8_without_boundary)], {"(8)"}),
    "eq. (9) sign of ∫ λ ∂f/∂θ": ([(lagrangian, "eq9_constraint_derivative", eq9_sign)], {"(9)"}),
    "eq. (10) term 2 sign": ([(lagrangian, "eq10_terms", term_negated(lagrangian.eq10_terms, 1))], {"(5),(10)"}),
    "eq. (12) sign": ([(lagrangian, "eq12_gradient", negated(lagrangian.eq12_gradient))], {"(12)"}),
    "dL/dt_i without the jump": ([(lagrangian, "dL_dtn", dL_dtn_after_jump)], {"dL/dt_i"}),
    "dL/dt0 sign (the comment's)": ([(lagrangian, "dL_dt0", negated(lagrangian.dL_dt0))], {"dL/dt0"}),
    "comment formula sign": ([(lagrangian, "comment_dL_dt0", negated(lagrangian.comment_dL_dt0))], {"comment"}),
    "Simpson → trapezoid": ([(lagrangian, "simpson", trapezoid)], {"(3)"}),
    "five-point → second-order differences": ([(lagrangian, "grid_derivative", second_order_derivative)], {"(1)"}),
    # the hand-written MLP derivatives
    "MLP VJP without tanh's slope": (lambda: defvjp_argnums(models.mlp_dynamics, mlp_vjp_without("slope")), None),
    "MLP VJP without t·g for c1": (lambda: defvjp_argnums(models.mlp_dynamics, mlp_vjp_without("c1_time")), None),
    "MLP JVP without tanh's slope": (lambda: defjvp_argnum(models.mlp_dynamics, mlp_jvp_without_slope), {"(11)"}),
    # issue 28: the second integral of eq. (6), and code paths the equations above do not run
    "eq. (6) sign of ∫ λf": ([(lagrangian, "eq6_split", term_negated(lagrangian.eq6_split, 1))], {"(6)"}),
    "running cost: q' = −g in the extended state": (
        [(running_cost, "with_cost", negated_cost(running_cost.with_cost))], {"∫ g dt"}),
    "dopri5 adjoint: backward pass at 1e-4": ([(api.SOLVERS["dopri5"], "adjoint",
                                               loose_backward_tolerances(api.SOLVERS["dopri5"]["adjoint"]))],
                                             {"dopri5"}),
    "drift: backward z compared with itself": ([(drifting, "relative_drift", lambda z_back, z: 0.0)], {"drift"}),
    "checkpoints='auto' taken as None": ([(adjoint, "adjoint_gradients", auto_ignored(adjoint.adjoint_gradients))],
                                         {"auto"}),
    # the step-size controller, against scipy's RK45 (tests/test_controller.py)
    "controller: exponent −1/p, not −1/(p+1)": ([(adaptive, "step_factor", with_order(adaptive.step_factor,
                                                                                     lambda p: p - 1))],
                                                None, [test_controller.assert_all_cases_match_scipy]),
    "controller: rtol and atol swapped": ([(adaptive, "error_ratio", tolerances_swapped(adaptive.error_ratio))],
                                          None, [test_controller.assert_all_cases_match_scipy]),
    "controller: Euclidean norm, not RMS": ([(adaptive, "rms", euclidean)], None,
                                            [test_controller.assert_all_cases_match_scipy]),
    # `check`'s own decisions (tests/test_check.py)
    "check: pass/fail comparison inverted": ([(check_module, "exceeding", within_tol)], None,
                                             [test_check.test_one_difference_above_tol_makes_the_report_not_ok]),
    "check: the budget skips the fast methods": (
        [(check_module, "BY_INPUT", ("backprop", "discrete_adjoint"))], None,
        [test_check.test_the_budget_skips_only_the_methods_whose_cost_grows_with_the_inputs]),
    "check: verdict's ratio inverted": (
        [(check_module, "_order_verdict", ratio_inverted(check_module._order_verdict))], None,
        [test_check.test_a_16_fold_fall_per_doubling_is_discretisation_and_no_fall_is_not]),
}


def killers(mutant):
    """The tests a mutant must fail (empty: `equations` or `check` must catch it)."""
    return MUTANTS[mutant][2] if len(MUTANTS[mutant]) > 2 else []


def failing_tests(mutant):
    """The names of the mutant's `killers` that fail (raise AssertionError) while it is applied."""
    failed = []
    for test in killers(mutant):
        try:
            test()
        except AssertionError:
            failed.append(test.__name__)
    return failed


def apply(mutant, monkeypatch):
    """Make the changes of MUTANTS[mutant]."""
    patches = MUTANTS[mutant][0]
    if callable(patches):
        patches()
        return
    for target, name, replacement in patches:
        if isinstance(target, dict):
            monkeypatch.setitem(target, name, replacement)
        else:
            monkeypatch.setattr(target, name, replacement)


def test_the_unbroken_code_passes():
    assert failures() == (set(), False)


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_every_mutant_is_caught(mutant, monkeypatch, mlp_derivatives):
    apply(mutant, monkeypatch)
    if killers(mutant):
        assert failing_tests(mutant) == [test.__name__ for test in killers(mutant)], f"{mutant}: a test passed"
        return
    expected = MUTANTS[mutant][1]
    failed_rows, check_failed = failures(every_row=expected is not None and bool(expected & OTHER_ROWS))
    assert failed_rows or check_failed, f"{mutant}: passed both equations and check"
    if expected is not None:
        assert failed_rows & expected, f"{mutant}: rows {sorted(failed_rows)} failed, none of {sorted(expected)}"


def test_the_readme_counts_the_mutants():
    # README.md's "breaks the code N ways" is this table's size: a mutant dropped (or the page's number
    # left behind when one is added) fails here
    with open(os.path.join(os.path.dirname(__file__), os.pardir, "README.md"), encoding="utf-8") as page:
        claimed = re.findall(r"`tests/test_mutants\.py` breaks the code (\d+) ways", page.read())
    assert claimed == [str(len(MUTANTS))]


if __name__ == "__main__":  # the mutant table for the documentation
    import warnings
    warnings.simplefilter("ignore", adjoint.AdjointDriftWarning)
    print(f"{'mutant':<48}{'check':>7}  equations rows that failed; tests that failed")
    for name in MUTANTS:
        with pytest.MonkeyPatch.context() as mp:
            apply(name, mp)
            rows, check_failed = failures()
            tests = failing_tests(name)
        defvjp_argnums(models.mlp_dynamics, models._mlp_vjp)
        defjvp_argnum(models.mlp_dynamics, models._mlp_jvp)
        print(f"{name:<48}{'FAIL' if check_failed else 'ok':>7}  {', '.join(sorted(rows)) or '-'}"
              + (f"; {', '.join(tests) or 'none'}" if killers(name) else ""))
