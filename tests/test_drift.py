"""The plain adjoint says when its backward z is wrong (AdjointDriftWarning), and only then.

Every test in the suite runs with the warning turned into an error (setup.cfg), so the smooth
problems all over the suite (the default MLP, the pendulum, the closed forms, the hypothesis cases)
are the "stays quiet" half of this test; the cases below are the other half, each checked against
the discrete adjoint (the exact gradient of the same RK4 solution) to show the gradient really is off.
"""
import inspect
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import adjoint_ref as ar
from adjoint_ref import adjoint
from adjoint_ref._impl.drift import DRIFT_FLOOR, EFFECT_MARGIN, checkpointed_effect, drift_threshold
from adjoint_ref.adjoint import adjoint_gradients
from adjoint_ref.problems.models import contracting_problem, default_problem, linear_dynamics
from adjoint_ref.rk4 import integrate
from adjoint_ref._impl.tree import ravel_tree
from reference import relative


def lorenz(z, theta, t):
    """Lorenz's system with θ = (σ, ρ, β)."""
    x, y, w = z[0], z[1], z[2]
    return anp.stack([theta[0] * (y - x), x * (theta[1] - w) - y, x * y - theta[2] * w])


def lorenz_case(n_steps):
    return (lambda zs: anp.sum(zs[-1] ** 2), lorenz, np.ones(3), np.array([10.0, 28.0, 8 / 3]),
            np.array([0.0, 2.0]), n_steps)


def stiff_case(n_steps):
    rotation = np.array([[np.cos(0.6), -np.sin(0.6)], [np.sin(0.6), np.cos(0.6)]])
    A = rotation @ np.diag([-1.0, -80.0]) @ rotation.T
    return (lambda zs: anp.dot(np.array([1.0, -2.0]), zs[-1]), linear_dynamics, np.array([1.0, 0.5]), A,
            np.array([0.0, 1.0]), n_steps)


def contracting_case(n_steps):
    p = contracting_problem()
    return p.loss, p.f, p.z0, p.theta, p.ts, n_steps


CASES = {"lorenz-400": lorenz_case(400), "stiff-100": stiff_case(100),
         "contracting-200": contracting_case(200)}


@pytest.mark.parametrize("name", list(CASES))
def test_drift_is_reported_where_the_gradient_is_wrong(name):
    loss, f, z0, theta, ts, n = CASES[name]
    with pytest.warns(ar.AdjointDriftWarning) as caught:
        g = ar.gradients(loss, f, z0, theta, ts, n)
    exact = ar.gradients(loss, f, z0, theta, ts, n, "discrete_adjoint")
    warning = caught[0].message
    assert warning.drift > warning.threshold and warning.t == ts[0]
    assert "checkpoints" in str(warning) and "discrete_adjoint" in str(warning)
    assert relative(g.theta, exact.theta) > 1e-4  # a real error, far above the O(h⁴) gap of a sound solve


@pytest.mark.parametrize("name", ["stiff-100", "contracting-200"])
def test_auto_checkpoints_rerun_and_fix_it(name):
    loss, f, z0, theta, ts, n = CASES[name]
    with pytest.warns(ar.AdjointDriftWarning, match="checkpoints='auto': ran the backward pass again"):
        g = ar.gradients(loss, f, z0, theta, ts, n, checkpoints="auto")
    exact = ar.gradients(loss, f, z0, theta, ts, n, "discrete_adjoint")
    assert relative(g.theta, exact.theta) < 1e-6


def test_auto_checkpoints_change_nothing_on_a_smooth_problem():
    p = default_problem(hidden=4)
    plain = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 6)
    auto = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 6, checkpoints="auto")
    for q in ("z0", "theta", "ts"):
        assert np.array_equal(ravel_tree(getattr(plain, q)), ravel_tree(getattr(auto, q)))


@pytest.mark.parametrize("n_steps", [1, 2, 10])
def test_smooth_problems_stay_far_below_the_threshold(n_steps):
    # The margin, not just the absence of a warning: a sound backsolve drifts by RK4's round-trip
    # error, at least 10x below the threshold even at one step per interval on [0, 4].
    for p in (default_problem(hidden=16), default_problem(batch=0, t1=4.0)):
        zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
        drift = adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, np.ones_like(zs), trace=True).drift
        assert len(drift) == len(p.ts) - 1
        assert all(row.ratio < 0.1 for row in drift), drift


def test_the_threshold_is_the_fourth_power_of_rate_times_step():
    z, dz = np.array([3.0, 4.0]), np.array([0.0, 10.0])  # ω = ‖f‖/‖z‖ = 2
    assert drift_threshold(z, dz, 0.05) == pytest.approx(0.1 ** 4)
    assert drift_threshold(z, 0 * dz, 0.05) == pytest.approx(1e-10)  # the round-off floor


def test_odeint_reports_drift_too():
    p = contracting_problem()
    with pytest.warns(ar.AdjointDriftWarning):
        grad(lambda A: p.loss(ar.odeint(p.f, p.z0, A, p.ts, 100)))(p.theta)


def test_the_warning_can_be_silenced_by_the_user():
    p = contracting_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ar.AdjointDriftWarning)
        ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 100)


def test_finite_differences_work_for_times_far_from_zero():
    # Unix-second times: t can only move in steps of ε·1.7e9 ≈ 4e-7, so the best a central difference
    # can do is (ε|t|)^(2/3) ≈ 5e-5 relative (finite_differences.time_steps); the old step
    # ε^(1/3)·|t| ≈ 1e4 jumped past the neighbouring times and gave 1e77.
    p = default_problem(hidden=4)
    offset = 1.7e9

    def f(z, theta, t):
        return p.f(z, theta, t - offset)

    fd = ar.gradients(p.loss, f, p.z0, p.theta, p.ts + offset, 6, "finite_differences")
    bp = ar.gradients(p.loss, f, p.z0, p.theta, p.ts + offset, 6, "backprop")
    assert relative(fd.ts, bp.ts) < 2 * (np.finfo(float).eps * offset) ** (2 / 3)
    assert relative(fd.theta, bp.theta) < 1e-8


def test_a_fast_slow_system_is_measured_again_before_a_warning():
    # FitzHugh–Nagumo (τ = 12.5): ‖f‖/‖z‖ underestimates its rate, so at coarse steps the free bound (ωh)⁴
    # is below the sound drift; the effect on the adjoint state, measured against the checkpointed
    # re-run, clears it: quiet, and well inside the effect's threshold.
    from adjoint_ref.problems import zoo
    p = zoo.ZOO["fitzhugh-nagumo"][0]()
    zs, pullback = adjoint.solve(p.f, p.z0, p.theta, p.ts, 2, trace=True)
    drift = pullback(grad(p.loss)(zs)).drift
    assert any(row.effect is not None for row in drift), drift  # the second tier was needed
    assert all(row.ratio < 0.5 for row in drift), drift


def stiff_upper_case():
    """The issue-22 case: dz/dt = A z, A = [[−1, 0.3], [0, −80]], L = sum(z(1)), 100 RK4 steps (hλ = 0.8)."""
    A = np.array([[-1.0, 0.3], [0.0, -80.0]])
    return (lambda zs: anp.sum(zs[-1]), linear_dynamics, np.array([1.0, 0.5]), A, np.array([0.0, 1.0]), 100)


def exact_linear_gradient(A, z0, w, t1):
    """d(w · e^{A t1} z0)/dA by the Fréchet derivative of expm: e^{[[A, E], [0, A]] t1}'s upper-right block
    is d e^{A t1}/dA · E (the matrix exponential's, not RK4's: the exact gradient of the ODE)."""
    from scipy.linalg import expm
    d, gradient = len(A), np.zeros_like(A)
    for i, j in np.ndindex(A.shape):
        E = np.zeros_like(A)
        E[i, j] = 1.0
        block = expm(np.block([[A, E], [np.zeros_like(A), A]]) * t1)
        gradient[i, j] = w @ block[:d, d:] @ z0
    return gradient


def test_a_modest_drift_amplified_by_a_stiff_mode_is_reported():
    # Backwards z is 21 % off at t0, below RK4's step-doubling bound (45 %) that let it pass before;
    # its effect on the gradient is 1000 times the checkpointed adjoint's discretisation error.
    loss, f, z0, A, ts, n = stiff_upper_case()
    exact = exact_linear_gradient(A, z0, np.ones(2), 1.0)
    with pytest.warns(ar.AdjointDriftWarning, match="checkpointed re-run") as caught:
        plain = ar.gradients(loss, f, z0, A, ts, n)
    warning = caught[0].message
    assert 0.1 < warning.drift < 0.45 and warning.effect > 50 * warning.effect_threshold
    checkpointed = ar.gradients(loss, f, z0, A, ts, n, checkpoints=10)
    discrete = ar.gradients(loss, f, z0, A, ts, n, "discrete_adjoint")
    assert 1e-3 < relative(plain.theta, exact) < 1e-2          # observed 3.0e-3
    assert 1e-6 < relative(checkpointed.theta, exact) < 1e-5   # observed 2.9e-6: RK4's O(h⁴)
    assert relative(discrete.theta, exact) < 1e-8              # observed 3.4e-10
    with pytest.warns(ar.AdjointDriftWarning, match="ran the backward pass again with checkpoints=10"):
        auto = ar.gradients(loss, f, z0, A, ts, n, checkpoints="auto")
    assert relative(auto.theta, exact) < 1e-5


def test_the_effect_threshold_is_step_doublings_discretisation_error():
    # checkpointed(n) = s + 1/n⁴ (an O(h⁴) error): the threshold is EFFECT_MARGIN ‖s(n) − s(2n)‖ / ‖s(n)‖
    s = np.array([3.0, 4.0])
    effect, threshold = checkpointed_effect(s + 1e-3, lambda n: s + n ** -4.0, 10)
    assert threshold == pytest.approx(EFFECT_MARGIN * np.sqrt(2) * (1e-4 - 1e-4 / 16) / np.linalg.norm(s + 1e-4),
                                      rel=1e-9)
    assert effect == pytest.approx(np.sqrt(2) * (1e-3 - 1e-4) / np.linalg.norm(s + 1e-4), rel=1e-9)


def test_a_zero_state_does_not_overflow_the_threshold():
    with np.errstate(all="raise"):
        assert drift_threshold(np.zeros(2), np.ones(2), 0.1) == DRIFT_FLOOR


def test_the_warnings_name_the_callers_line():
    p = contracting_problem()
    for options in ({}, {"checkpoints": "auto"}):
        with pytest.warns(ar.AdjointDriftWarning) as caught:
            line = inspect.currentframe().f_lineno + 1
            ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 100, **options)
        assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)] * len(caught), options


def test_the_warning_names_the_users_line_under_autograd_grad():
    # odeint's pullback runs inside autograd's backward pass: the warning still names the user's grad(...) call
    p = contracting_problem()
    for options in ({}, {"checkpoints": "auto"}):
        def loss_of(z0):
            return p.loss(ar.odeint(p.f, z0, p.theta, p.ts, 100, **options))

        with pytest.warns(ar.AdjointDriftWarning) as caught:
            line = inspect.currentframe().f_lineno + 1
            grad(loss_of)(p.z0)
        assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)] * len(caught), options


def margin_rows():
    """(problem, n_steps, Drift furthest over its threshold) for the issue-22 case and every zoo problem at
    its steps: the criterion's margin both ways (`python tests/test_drift.py` prints them)."""
    from adjoint_ref.problems.zoo import ZOO
    loss, f, z0, A, ts, n = stiff_upper_case()
    problems = [("issue-22 stiff, A = [[-1, 0.3], [0, -80]]", ar.Problem(f, z0, A, ts, loss), n)]
    problems += [(name, entry.make(), entry.n_steps) for name, entry in ZOO.items()]
    for name, p, n in problems:
        zs, pullback = adjoint.solve(p.f, p.z0, p.theta, p.ts, n, trace=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ar.AdjointDriftWarning)
            drift = pullback(grad(p.loss)(zs)).drift
        yield name, n, max(drift, key=lambda row: row.ratio)


if __name__ == "__main__":
    print(f"{'problem':<44}{'steps':>6}{'z drift':>10}{'bound':>10}{'effect':>10}{'threshold':>10}{'ratio':>10}")
    for name, n, row in margin_rows():
        effect = ("", "") if row.effect is None else (f"{row.effect:.2e}", f"{row.effect_threshold:.2e}")
        print(f"{name:<44}{n:>6}{row.drift:>10.2e}{row.threshold:>10.2e}{effect[0]:>10}{effect[1]:>10}"
              f"{row.ratio:>10.3g}  {'quiet' if row.ok else 'WARNS'}")
