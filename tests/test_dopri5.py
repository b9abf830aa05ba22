"""The adaptive Dormand–Prince solver (solver="dopri5"): its order, closed forms, the RK4 discrete
adjoint as an outside reference, tolerances, the seminorm, counts and errors.

Tolerances on gradients follow the requested rtol: the observed errors sit within a small factor of
it, and each bound below is about ten times the error observed when it was written.
"""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import adjoint_ref as ar
from adjoint_ref import adaptive
from adjoint_ref.problems.models import contracting_problem, default_problem
from adjoint_ref.rk4 import rk4_step
from adjoint_ref.tableau import DOPRI5, RK4, rk_step
from adjoint_ref._impl.tree import ravel_tree
from reference import expm, expm_derivative, relative

ADAPTIVE_METHODS = [("adjoint", {}), ("adjoint", {"seminorm": True}), ("backprop", {}), ("finite_differences", {})]
METHOD_IDS = ["adjoint", "adjoint-seminorm", "backprop", "finite_differences"]


def riccati(z, theta, t):
    return -2 * t * z ** 2  # z(0) = 1: z(t) = 1 / (1 + t²)


def fixed_step_error(tableau, n):
    h, z = 1.0 / n, np.array([1.0])
    for k in range(n):
        z = rk_step(tableau, riccati, z, None, k * h, h)[0]
    return abs(z[0] - 0.5)


@pytest.mark.parametrize("tableau, order", [(DOPRI5, 5), (DOPRI5._replace(b=DOPRI5.b_hat, b_hat=None), 4), (RK4, 4)],
                         ids=["dopri5", "embedded", "rk4"])
def test_fixed_step_order_on_a_nonlinear_time_dependent_problem(tableau, order):
    # Halving h divides the global error by 2^order: observed 34.7 (dopri5), 18.6 (embedded), 15.5 (RK4).
    observed = np.log2(fixed_step_error(tableau, 20) / fixed_step_error(tableau, 40))
    assert abs(observed - order) < 0.3


def test_rk4_tableau_is_the_teaching_rk4_step():
    def f(z, theta, t):
        return np.sin(z) * t + np.cos(z[::-1]) * theta

    z = np.array([0.3, -1.2])
    assert np.array_equal(rk_step(RK4, f, z, 0.7, 0.3, 0.1)[0], rk4_step(f, z, 0.7, 0.3, 0.1))


def test_error_estimate_is_the_difference_of_the_two_solutions():
    z, h = np.array([1.0]), 0.3
    z5, error, _ = rk_step(DOPRI5, riccati, z, None, 0.2, h)
    z4 = rk_step(DOPRI5._replace(b=DOPRI5.b_hat, b_hat=None), riccati, z, None, 0.2, h)[0]
    assert error == pytest.approx(z5 - z4, rel=1e-12)


def linear_problem(ts):
    # dz/dt = A z with a non-symmetric A; L = Σ_i c_i · z(t_i) over the observation times after the first.
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3)) * 0.6
    z0, cs = rng.normal(size=3), rng.normal(size=(len(ts) - 1, 3))
    spans = np.asarray(ts[1:]) - ts[0]
    zs = [expm(A * span) @ z0 for span in spans]
    unit = np.eye(3)
    exact = {"loss": sum(c @ z for c, z in zip(cs, zs)),
             "z0": sum(expm(A.T * span) @ c for c, span in zip(cs, spans)),
             "theta": np.array([[sum(c @ expm_derivative(A, np.outer(unit[j], unit[k]), span) @ z0
                                     for c, span in zip(cs, spans)) for k in range(3)] for j in range(3)]),
             "ts": np.array([-sum(c @ expm(A * span) @ A @ z0 for c, span in zip(cs, spans))]
                            + [c @ A @ z for c, z in zip(cs, zs)])}

    def loss(zs):
        return anp.sum(cs * zs[1:])

    return loss, A, z0, np.asarray(ts, dtype=float), exact, np.array([z0] + zs)


def linear(z, A, t):
    return anp.dot(A, z)


@pytest.mark.parametrize("ts", [[0.0, 0.5, 1.2], [1.2, 0.4, -0.3]], ids=["increasing", "decreasing"])
def test_forward_solution_against_the_matrix_exponential(ts):
    _, A, z0, ts, _, zs = linear_problem(ts)
    # observed 3.3e-11 and 1.2e-11 at rtol = atol = 1e-10
    assert relative(ar.odeint(linear, z0, A, ts, solver="dopri5", rtol=1e-10, atol=1e-10), zs) < 3e-10


@pytest.mark.parametrize("ts", [[0.0, 0.5, 1.2], [1.2, 0.4, -0.3]], ids=["increasing", "decreasing"])
@pytest.mark.parametrize("method, options", ADAPTIVE_METHODS, ids=METHOD_IDS)
def test_gradients_against_the_matrix_exponential_and_van_loan(method, options, ts):
    loss, A, z0, ts, exact, _ = linear_problem(ts)
    g = ar.gradients(loss, linear, z0, A, ts, method=method, solver="dopri5", rtol=1e-10, atol=1e-10, **options)
    for name, value in exact.items():
        # observed ≤ 8e-11 (adjoint), ≤ 1.7e-10 (backprop), ≤ 2.3e-10 (finite differences) at rtol = atol = 1e-10
        assert relative(getattr(g, name), value) < 1e-9, name


@pytest.fixture(scope="module")
def mlp():
    """The default problem (a t-dependent tanh MLP on a batch of 4, five observation times) and its
    RK4 discrete-adjoint gradient at 100 steps per interval (error ~1e-12, far below the checks)."""
    p = default_problem()
    return p, ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 100, "discrete_adjoint")


def flat(g):
    return np.concatenate([np.ravel(g.z0), ravel_tree(g.theta), g.ts])


@pytest.mark.parametrize("method, options", ADAPTIVE_METHODS[:3], ids=METHOD_IDS[:3])
def test_mlp_gradients_against_the_rk4_discrete_adjoint(mlp, method, options):
    p, reference = mlp
    g = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, method=method, solver="dopri5", rtol=1e-10, atol=1e-10,
                     **options)
    assert g.loss == pytest.approx(reference.loss, rel=1e-12)  # observed 1e-13
    assert relative(flat(g), flat(reference)) < 1e-9  # observed 1e-11 (adjoint) to 1.8e-10 (backprop)


@pytest.mark.parametrize("method", ["adjoint", "backprop"])
def test_tighter_tolerances_give_smaller_errors(method):
    loss, A, z0, ts, exact, _ = linear_problem([0.0, 0.5, 1.2])
    errors = []
    for rtol in (1e-4, 1e-6, 1e-8):
        g = ar.gradients(loss, linear, z0, A, ts, method=method, solver="dopri5", rtol=rtol, atol=rtol)
        errors.append(relative(g.theta, exact["theta"]))
    # each 100x tighter tolerance cuts the error at least 10x (observed 37–110x)
    assert errors[1] < errors[0] / 10 and errors[2] < errors[1] / 10, errors


def test_seminorm_gives_the_same_gradient_with_no_more_backward_steps(mlp):
    p, reference = mlp
    runs = {}
    for seminorm in (False, True):
        stats = {}
        g = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, solver="dopri5", rtol=1e-8, atol=1e-8, seminorm=seminorm,
                         stats=stats)
        runs[seminorm] = relative(flat(g), flat(reference)), stats
    (error_full, full), (error_semi, semi) = runs[False], runs[True]
    assert error_full < 1e-8 and error_semi < 3e-8  # observed 1.1e-9 and 3.5e-9 at rtol = atol = 1e-8
    assert full["forward"] == semi["forward"]
    assert semi["backward"]["accepted"] + semi["backward"]["rejected"] <= \
        full["backward"]["accepted"] + full["backward"]["rejected"]


@pytest.mark.parametrize("gradient", ["adjoint", "backprop"])
def test_odeint_is_differentiable_by_autograd_like_gradients(mlp, gradient):
    p, _ = mlp
    stats = {}

    def loss_of(z0, theta, ts):
        return p.loss(ar.odeint(p.f, z0, theta, ts, gradient=gradient, solver="dopri5", rtol=1e-6, atol=1e-8,
                                stats=stats))

    g_z0, g_theta, g_ts = grad(loss_of, argnum=(0, 1, 2))(p.z0, p.theta, p.ts)
    g = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, method=gradient, solver="dopri5", rtol=1e-6, atol=1e-8)
    assert relative(flat(ar.Gradients(0.0, g_z0, g_theta, g_ts)), flat(g)) < 1e-14
    assert stats["forward"]["accepted"] > 0 and ("backward" in stats) == (gradient == "adjoint")


def test_stats_count_six_evaluations_per_step_and_the_first_two():
    # First same as last: a step costs 6 new evaluations; the start costs f(z0) and one for the first step size.
    loss, A, z0, ts, _, _ = linear_problem([0.0, 0.5, 1.2])
    stats = {}
    ar.gradients(loss, linear, z0, A, ts, solver="dopri5", rtol=1e-7, atol=1e-9, stats=stats)
    for which in ("forward", "backward"):
        counts = stats[which]
        attempts = counts["accepted"] + counts["rejected"]
        # the backward pass restarts its first stage after each of the len(ts) - 2 jumps of λ
        restarts = 0 if which == "forward" else len(ts) - 2
        assert counts["f_evals"] == 6 * attempts + 2 + restarts, which


def test_finite_differences_replay_the_accepted_steps_so_they_match_backprop():
    # Both differentiate the same fixed-step computation; only the finite-difference error separates them.
    loss, A, z0, ts, _, _ = linear_problem([0.0, 0.5, 1.2])
    options = dict(solver="dopri5", rtol=1e-4, atol=1e-6)  # loose: the step sequence is far from converged
    g_bp = ar.gradients(loss, linear, z0, A, ts, method="backprop", **options)
    g_fd = ar.gradients(loss, linear, z0, A, ts, method="finite_differences", **options)
    assert relative(flat(g_fd), flat(g_bp)) < 3e-10  # observed 2.9e-11


def test_replay_reproduces_the_adaptive_solution_exactly():
    loss, A, z0, ts, _, _ = linear_problem([0.0, 0.5, 1.2])
    controller = adaptive.Adaptive(1e-6, 1e-8)
    zs = adaptive.adaptive_integrate(linear, z0, A, ts, controller)
    assert np.array_equal(adaptive.adaptive_integrate(linear, z0, A, ts, adaptive.Replay(controller.fractions)), zs)
    assert all(abs(sum(fractions) - 1) < 1e-15 for fractions in controller.fractions)


def linear_call(function, **options):
    loss, A, z0, ts, _, _ = linear_problem([0.0, 0.5, 1.2])
    if function is ar.odeint:
        return ar.odeint(linear, z0, A, ts, **options)
    return ar.gradients(loss, linear, z0, A, ts, **options)


@pytest.mark.parametrize("function", [ar.odeint, ar.gradients])
@pytest.mark.parametrize("options, error, message", [
    (dict(solver="dopri5", n_steps=10), ValueError, "n_steps applies to solver='rk4' only"),
    (dict(solver="dopri5", checkpoints=2), ValueError, "checkpoints applies to solver='rk4' only"),
    (dict(rtol=1e-6), ValueError, "rtol applies to solver='dopri5' only"),
    (dict(solver="rk4", atol=1e-6), ValueError, "atol applies to solver='dopri5' only"),
    (dict(n_steps=5, adjoint_rtol=1e-6), ValueError, "adjoint_rtol applies to solver='dopri5' only"),
    (dict(seminorm=True), ValueError, "seminorm applies to solver='dopri5' only"),
    (dict(solver="dopri5", step_size=0.1), ValueError, "step_size applies to solver='rk4' only"),
    (dict(solver="dopri5", stats=[]), TypeError, "stats must be a dict"),
    (dict(solver="rk45"), ValueError, "solver must be one of 'rk4', 'dopri5'"),
    (dict(solver="dopri5", rtol=-1e-6), ValueError, "rtol must be a positive, finite number, got -1e-06"),
    (dict(solver="dopri5", atol="1e-6"), TypeError, "atol must be a positive, finite number, got '1e-6'"),
    (dict(solver="dopri5", adjoint_atol=0.0), ValueError, "adjoint_atol must be a positive, finite number"),
    (dict(solver="dopri5", seminorm="yes"), TypeError, "seminorm must be True or False"),
])
def test_arguments_of_the_other_solver_are_refused_by_name(function, options, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        linear_call(function, **options)


def test_odeint_counts_rk4_only_through_gradients():
    with pytest.raises(ValueError, match="odeint's stats applies to solver='dopri5' only"):
        linear_call(ar.odeint, stats={})


@pytest.mark.parametrize("options, message", [
    (dict(method="backprop", seminorm=True), "seminorm applies to method='adjoint' only"),
    (dict(method="finite_differences", adjoint_rtol=1e-5), "adjoint_rtol applies to method='adjoint' only"),
    (dict(running_loss=lambda z, theta, t: anp.sum(z ** 2)), "running_loss applies to solver='rk4' only"),
    (dict(method="discrete_adjoint"), "method \\(with solver='dopri5'\\) must be one of 'adjoint', 'backprop', "
                                      "'finite_differences'; got 'discrete_adjoint'"),
])
def test_options_that_do_not_apply_to_the_method_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        linear_call(ar.gradients, solver="dopri5", **options)


def test_too_many_steps_is_an_error_naming_the_tolerances(monkeypatch):
    monkeypatch.setattr(adaptive, "MAX_STEPS", 5)
    with pytest.raises(RuntimeError, match=r"gave up after 5 steps in the forward pass.*rtol=1e-10"):
        linear_call(ar.odeint, solver="dopri5", rtol=1e-10)


def test_a_solution_that_blows_up_stops_with_the_time():
    # dz/dt = z², z(0) = 1: z = 1/(1 − t) blows up at t = 1.
    with pytest.raises(FloatingPointError, match=r"step size fell to .* at t=1 during the forward pass"):
        ar.odeint(lambda z, theta, t: z ** 2, np.array([1.0]), 0.0, [0.0, 2.0], solver="dopri5")


def test_an_observation_time_costs_its_own_short_step_only():
    # A step clipped to land on an observation time does not shrink the steps after it: the extra
    # times 0.6 and 0.6001 add the two steps that end on them (observed 13 → 15; 17 if they did shrink).
    _, A, z0, _, _, _ = linear_problem([0.0, 1.2])
    counts = []
    for ts in ([0.0, 1.2], [0.0, 0.6, 0.6001, 1.2]):
        stats = {}
        ar.odeint(linear, z0, A, ts, gradient="backprop", solver="dopri5", stats=stats)
        counts.append(stats["forward"]["accepted"])
    assert counts[1] <= counts[0] + 2, counts


@pytest.mark.parametrize("seminorm", [False, True])
def test_backward_error_control_covers_lambda_when_z_stays_at_zero(seminorm):
    # z0 = 0 keeps z ≡ 0, so only λ(t) = e^{Aᵀ(t1 − t)} c carries error: the (semi)norm must include λ.
    loss, A, _, ts, _, _ = linear_problem([0.0, 1.2])
    c = grad(loss)(np.ones((2, 3)))[1]
    g = ar.gradients(loss, linear, np.zeros(3), A, ts, solver="dopri5", rtol=1e-10, atol=1e-10, seminorm=seminorm)
    assert relative(g.z0, expm(A.T * 1.2) @ c) < 1e-9  # observed 1.9e-10 (norm), 1.2e-10 (seminorm)


def test_drift_warning_where_the_backward_z_leaves_the_forward_one():
    # Forwards the fast direction (rate −10) decays; backwards it amplifies the solver's error, and the
    # adjoint's gradient ends 280 times the tolerance away from backprop's (a sound solve: ~1).
    p = contracting_problem(fast=10.0)
    options = dict(solver="dopri5", rtol=1e-7, atol=1e-7)
    with pytest.warns(ar.AdjointDriftWarning, match="method='backprop'") as caught:
        g = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, **options)
    assert caught[0].filename == __file__  # the line above, not the package's
    warning = caught[0].message
    assert warning.t == 0.0 and warning.drift > warning.threshold
    backprop = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, method="backprop", **options)
    assert relative(g.theta, backprop.theta) > 100 * 1e-7


def test_a_backward_z_that_blows_up_stops_the_solve():
    p = contracting_problem(fast=50.0)
    with pytest.raises(FloatingPointError, match=r"backward z grew to .* more than 100 times the largest forward"):
        ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, solver="dopri5")
