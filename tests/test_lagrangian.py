"""Eqs. (1)–(12) of `lagrangian`, checked with numbers, and the `adjoint-ref equations` command.

Tolerances. Everything on the RK4 grid is of order 4 in the step h: RK4 itself, composite Simpson
(error ≤ span·h⁴·max|g⁗|/180) and five-point differences (≤ h⁴·max|g⁽⁵⁾|/5 at the ends). A quantity
varying at rate ω has |g⁽ᵏ⁾| ≲ ωᵏ|g|, so each of them errs by at most (ω h)⁴ relative to its size
(constants ≤ 1 for ω·span ≲ 5). ω = equations.fastest_rate: the larger of 3, a bound on the arbitrary
λ's frequencies, and the largest ‖∂f/∂z‖₂ along the path (about 1 for the MLP, so ω = 3 there). Identities that hold exactly in floating point up to rounding get ROUND_OFF.
"""
import re

import numpy as np
import pytest

from autograd import jacobian

from adjoint_ref.diagnostics import equations
from adjoint_ref.cli import figures
from adjoint_ref import lagrangian as lg, rk4
from adjoint_ref._impl.tree import ravel_tree
from adjoint_ref.api import METHODS
from adjoint_ref.cli import main
from adjoint_ref.problems.models import default_problem
from reference import relative

OMEGA = 3.0
ROUND_OFF = 1e-12  # ε ≈ 2.2e-16 times the few hundred roundings of a Simpson sum, with a wide margin
N_STEPS = 8


def order4_tolerance(ts, n_steps):
    return (OMEGA * np.max(np.abs(np.diff(ts))) / n_steps) ** 4


def size(x):
    return np.linalg.norm(ravel_tree(x))


def quiet(_):
    pass


def small_problem(reverse=False):
    """A 2-state batch in 2-D, 6 hidden units, 4 observation times on [0, 1] (three intervals)."""
    p = default_problem(hidden=6, batch=2, seed=3, n_times=4)
    return p._replace(ts=p.ts[::-1].copy()) if reverse else p


@pytest.fixture(scope="module")
def ev():
    return equations.evaluate(small_problem(), N_STEPS, seed=5, log=quiet)


@pytest.fixture(scope="module")
def tol():
    return order4_tolerance(small_problem().ts, N_STEPS)


# ---------------------------------------------------------------- quadrature and differences

def grid(n_steps, ts=(0.0, 0.5, 1.25)):
    """Grid times (intervals, n_steps + 1) on the intervals between ts."""
    return np.array([np.linspace(a, b, n_steps + 1) for a, b in zip(ts[:-1], ts[1:])])


def test_simpson_is_exact_for_cubics_and_oriented():
    # Simpson's rule integrates polynomials of degree ≤ 3 exactly; only rounding remains.
    t = grid(4)
    g = 1 - 2 * t + 3 * t ** 2 + 4 * t ** 3
    exact = 1.25 - 1.25 ** 2 + 1.25 ** 3 + 1.25 ** 4
    assert lg.integral(g, t) == pytest.approx(exact, rel=ROUND_OFF)
    assert lg.integral(g[::-1, ::-1], t[::-1, ::-1]) == pytest.approx(-exact, rel=ROUND_OFF)


def test_simpson_error_falls_like_h4():
    errors = [abs(lg.integral(np.sin(3 * grid(n)), grid(n)) - (1 - np.cos(3.75)) / 3) for n in (4, 8, 16)]
    slopes = np.diff(np.log(errors)) / np.log(2)
    assert np.all((slopes < -3.8) & (slopes > -4.2)), slopes


def test_grid_derivative_is_exact_for_quartics():
    # Every five-point stencil differentiates polynomials of degree ≤ 4 exactly.
    t = grid(6, ts=(1.0, 0.4, -0.2))  # decreasing, two intervals
    g = np.stack([t ** 4 - t, 2 + t ** 3], axis=-1)
    exact = np.stack([4 * t ** 3 - 1, 3 * t ** 2], axis=-1)
    assert np.max(np.abs(lg.grid_derivative(g, t) - exact)) < 1e-11  # rounding of g / h, h = 0.1


def test_smooth_multiplier_derivative_matches_differences():
    t = grid(16)
    m = lg.smooth_multiplier(t, 3, seed=2)
    assert relative(lg.grid_derivative(m.lam, t), m.lam_dot) < order4_tolerance([0.0, 0.75], 16)


@pytest.mark.parametrize("n_steps", [2, 5, 7])
def test_n_steps_must_be_even_and_at_least_4(n_steps):
    p = small_problem()
    with pytest.raises(ValueError, match=f"n_steps must be even and at least 4.*got {n_steps}"):
        lg.forward_path(p.f, p.z0, p.theta, p.ts, n_steps)


# ---------------------------------------------------------------- the equations, one by one

def test_eq1_eq3_forward_solution(ev, tol):
    f = ev.on_arbitrary.f
    F = lg.eq1_constraint(lg.grid_derivative(ev.path.z, ev.path.t), f)
    assert size(F) < tol * size(f)
    z0 = np.ravel(ev.problem.z0)
    assert relative(lg.eq3_forward_solution(z0, f, ev.path.t) - z0, ev.path.z[:, -1] - z0) < tol


def test_eq4_eq6_lagrangian_equals_the_loss(ev, tol):
    z_dot = lg.grid_derivative(ev.path.z, ev.path.t)
    lam, f, t = ev.arbitrary.lam, ev.on_arbitrary.f, ev.path.t
    psi = lg.eq4_lagrangian(ev.loss, lam, lg.eq1_constraint(z_dot, f), t)
    assert psi == pytest.approx(ev.loss, rel=tol)
    lam_z_dot, lam_f = lg.eq6_split(lam, z_dot, f, t)  # ∫λF = ∫λż − ∫λf, a linear identity
    assert lam_z_dot - lam_f == pytest.approx(ev.loss - psi, abs=ROUND_OFF * abs(lam_z_dot))


def test_eq7_integration_by_parts_for_an_arbitrary_lambda(ev, tol):
    lam, t = ev.arbitrary, ev.path.t
    z_dot = lg.grid_derivative(ev.path.z, t)
    lhs = lg.eq6_split(lam.lam, z_dot, ev.on_arbitrary.f, t)[0]
    assert lhs == pytest.approx(lg.eq7_by_parts(lam.lam, lam.lam_dot, ev.path.z, t), rel=tol)


def test_eq8_eq9_derivative_of_the_constraint_term_vanishes(ev, tol):
    # ∫λF dt = 0 for every θ (F = 0 on the solution), so its θ-derivative vanishes; (8) and (9)
    # are the same sum regrouped, so they agree to rounding of their largest term.
    lam, p, S, t = ev.arbitrary, ev.on_arbitrary, ev.path.S, ev.path.t
    eq8 = lg.eq8_constraint_derivative(lam.lam, lam.lam_dot, S, lg.chain_rule(p.lam_fz, S, p.lam_ftheta), t)
    eq9 = lg.eq9_constraint_derivative(lam.lam, lam.lam_dot, S, p.lam_fz, p.lam_ftheta, t)
    scale = size(lg.boundary(lg.row_times(lam.lam, S)))
    assert size(eq9) < tol * scale
    assert size(eq8 - eq9) < ROUND_OFF * scale


@pytest.mark.parametrize("lam_seed", [5, 6])
def test_eq10_terms_add_up_to_backprop_for_any_lambda(ev, tol, lam_seed):
    lam = lg.smooth_multiplier(ev.path.t, ev.path.z.shape[-1], lam_seed)
    jac = lg.jacobians_along(ev.problem.f, ev.problem.theta, ev.path, ev.problem.z0.shape)
    p = ev.on_arbitrary if lam_seed == 5 else lg.along_path(jac, lam.lam)
    terms = lg.eq10_terms(ev.dL_dzs, lam.lam, lam.lam_dot, ev.path.S, p.lam_fz, p.lam_ftheta, ev.path.t)
    assert all(size(term) > 0.1 * size(ev.reference["backprop"].theta) for term in terms)  # all three matter
    assert relative(sum(terms), ev.reference["backprop"].theta) < tol


def test_eq10_with_zero_lambda_is_the_forward_sensitivity_gradient(ev):
    # λ = 0 leaves term 1 = Σ ∂L/∂z(t_i) dz(t_i)/dθ, which is backprop's gradient up to rounding:
    # RK4 on [z, dz/dθ] is the exact derivative of RK4 on z.
    zero, zero_theta = np.zeros_like(ev.path.z), np.zeros_like(ev.path.S[..., 0, :])
    terms = lg.eq10_terms(ev.dL_dzs, zero, zero, ev.path.S, zero, zero_theta, ev.path.t)
    assert relative(terms[0], ev.reference["backprop"].theta) < ROUND_OFF
    assert size(terms[1]) == size(terms[2]) == 0


def test_eq10_on_one_interval_is_the_posts_bracket():
    p = default_problem(hidden=4, batch=0, seed=1, n_times=2)
    path = lg.forward_path(p.f, p.z0, p.theta, p.ts, N_STEPS)
    lam = lg.smooth_multiplier(path.t, p.z0.size, seed=0)
    dL_dz1 = np.array([0.3, -1.2])
    dL_dzs = np.stack([np.zeros(2), dL_dz1])
    products = lg.along_path(lg.jacobians_along(p.f, p.theta, path, p.z0.shape), lam.lam)
    bracket = lg.eq10_terms(dL_dzs, lam.lam, lam.lam_dot, path.S, products.lam_fz, products.lam_ftheta, path.t)[0]
    posts_bracket = (dL_dz1 - lam.lam[0, -1]) @ path.S[0, -1]  # [∂L/∂z(t1) − λ(t1)] dz(t1)/dθ
    assert np.allclose(bracket, posts_bracket, rtol=ROUND_OFF, atol=ROUND_OFF * np.max(np.abs(posts_bracket)))


def test_eq11_the_adjoint_removes_the_terms_with_dz_dtheta(ev, tol):
    lam, p = ev.adjoint, ev.on_adjoint
    # λ(t_N) = ∂L/∂z(t_N), and λ jumps by ∂L/∂z(t_i) at the other observation times (rounding only).
    assert np.allclose(lam.lam[-1, -1], ev.dL_dzs[-1], rtol=0, atol=ROUND_OFF)
    assert np.allclose(lam.lam[:-1, -1] - lam.lam[1:, 0], ev.dL_dzs[1:-1], rtol=0, atol=ROUND_OFF)
    bracket, integral, lam_ftheta = lg.eq10_terms(ev.dL_dzs, lam.lam, lam.lam_dot, ev.path.S, p.lam_fz,
                                                  p.lam_ftheta, ev.path.t)
    dL_dtheta = ev.reference["backprop"].theta
    assert size(bracket) < ROUND_OFF * size(dL_dtheta)
    assert size(integral) < tol * size(dL_dtheta)  # λ̇ from differences: λ̇ + λ∂f/∂z = O(h⁴)
    assert relative(lam_ftheta, dL_dtheta) < tol


@pytest.mark.parametrize("method", ["adjoint", "backprop", "finite_differences", "forward_sensitivity"])
def test_eq12_equals_every_gradient_method(ev, tol, method):
    assert relative(lg.eq12_gradient(ev.on_adjoint.lam_ftheta, ev.path.t), ev.reference[method].theta) < tol


def test_time_gradients_and_the_comment_formulas_sign(ev, tol):
    lam, p = ev.adjoint.lam, ev.on_adjoint
    fd = ev.reference["finite_differences"].ts
    assert relative(lg.dL_dtn(lam, p.f), fd[1:]) < tol
    assert relative(lg.dL_dt0(lam, p.f), fd[0]) < tol
    # The comment's formula, dL/dt_N + ∫_{t_N}^{t_0} λ ∂f/∂t dt, gives the opposite sign.
    assert relative(lg.comment_dL_dt0(lam, p.f, p.lam_ft, ev.path.t), -fd[0]) < tol


def test_decreasing_times_every_row_within_tolerance():
    p = small_problem(reverse=True)
    rows = equations.equation_rows(equations.evaluate(p, N_STEPS, seed=5, log=quiet))
    for row in rows:
        limit = ROUND_OFF if "term 1," in row.what else order4_tolerance(p.ts, N_STEPS)
        assert row.residual < limit, row


def test_residuals_fall_like_h4():
    # Each of these rows must fall 16-fold per halving of h (slope −4 ± 0.5 in log–log). Not here:
    # the round-off row; (4)–(5), a signed integral of F = O(h⁴) against an oscillating λ whose
    # size can cancel at some steps; and term 2 of (11), whose two O(h⁴) parts (RK4's λ, five-point
    # λ̇) partly cancel at coarse steps. Those are held to their tolerances above.
    rows_with_order4 = ("(1)", "(3)", "(6)–(7)", "(8)", "(9)", "(5),(10)", "(12)", "dL/dt_i", "dL/dt0", "comment")
    p = default_problem(hidden=4, batch=0, seed=1, n_times=3)
    steps = [4, 8, 16]
    table = [equations.equation_rows(equations.evaluate(p, n, seed=5, log=quiet)) for n in steps]
    checked = 0
    for i, row in enumerate(table[0]):
        if row.equation in rows_with_order4:
            slopes = np.diff(np.log([rows[i].residual for rows in table])) / np.diff(np.log(steps))
            assert np.all((slopes < -3.5) & (slopes > -4.5)), (row.equation, row.what, slopes)
            checked += 1
    assert checked == 9 + len(equations.VARIANTS)  # eq. (12) has one row per gradient variant


# ---------------------------------------------------------------- the command

def test_equations_command_prints_every_row_ok(capsys):
    assert main(["equations", "--hidden", "4", "--steps", "4"]) == 0
    out = capsys.readouterr().out
    for eq in ("(1)", "(3)", "(4)", "(4)–(5)", "(6)", "(6)–(7)", "(8)", "(9)", "(5),(10)", "(11)", "(12)", "dL/dt_i",
               "dL/dt0", "comment", "(H2)", "dL/dts", "z(t0)", "∫ g dt", "dopri5", "drift", "auto"):
        assert f"\n{eq} " in out
    # (12) has a row per gradient variant; dL/dts and z(t0) a row per variant other than finite differences;
    # the running cost a row per adjoint variant and one for finite differences; dopri5 one, the drift three
    n = len(equations.VARIANTS)
    count = 17 + n + 2 * (n - 1) + len(equations.RUNNING_COST_VARIANTS) + 5
    assert out.count(" ok\n") == count == 40  # the README's "40 rows"
    assert "FAIL" not in out


def test_equations_command_fails_when_a_tolerance_is_too_tight(capsys, monkeypatch):
    # With ω = 1e-3 the O(h⁴) tolerance is ~1e-19, below every discretisation residual.
    monkeypatch.setattr(equations, "fastest_rate", lambda jac: 1e-3)
    assert main(["equations", "--hidden", "4", "--steps", "4"]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize("steps", ["2", "5"])
def test_equations_command_rejects_odd_or_too_few_steps(steps, capsys):
    with pytest.raises(SystemExit) as info:
        main(["equations", "--steps", steps])
    assert info.value.code == 2
    assert "--steps" in capsys.readouterr().err


def test_lagrangian_with_a_closed_form_loss_gradient():
    # dz/dt = θ z, L = z(t1): ∂L/∂z(t1) = 1 and λ(t) = e^{θ(t1 − t)} exactly; eq. (12) is then
    # ∫ λ z dt = z0 (t1 − t0) e^{θ(t1 − t0)} = dL/dθ.
    def f(z, theta, t):
        return theta * z
    z0, theta, ts = np.array([0.7]), np.array(0.9), np.array([0.0, 1.5])
    path = lg.forward_path(f, z0, theta, ts, N_STEPS)
    dL_dzs = np.array([[0.0], [1.0]])
    lam = lg.eq11_adjoint_multiplier(f, lg.at_observation_times(path.z), theta, ts, N_STEPS, dL_dzs, path.t)
    assert relative(lam.lam[0, :, 0], np.exp(theta * (1.5 - path.t[0]))) < order4_tolerance(ts, N_STEPS)
    products = lg.along_path(lg.jacobians_along(f, theta, path, z0.shape), lam.lam)
    exact = z0[0] * 1.5 * np.exp(theta * 1.5)
    assert lg.eq12_gradient(products.lam_ftheta, path.t)[0] == pytest.approx(exact, rel=order4_tolerance(ts, N_STEPS))
    assert np.sum(lg.dL_dtn(lam.lam, products.f)) == pytest.approx(theta * z0[0] * np.exp(theta * 1.5),
                                                                    rel=order4_tolerance(ts, N_STEPS))


def test_lagrangian_terms_figure_is_drawn(tmp_path):
    (path,) = figures.render(["lagrangian_terms.png"], out=str(tmp_path), quick=True, log=quiet)
    with open(path, "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- rows that can fail

def test_eq4_psi_is_stationary_only_for_the_adjoint_lambda(ev, tol):
    # With the adjoint λ, varying the path leaves ψ unchanged to first order though L changes;
    # with an arbitrary λ it does not; a sign error in eq. (4) (ψ = L + ∫ λF) makes dψ/dε = 2·dL/dε instead of 0.
    dpsi, dL = equations.stationarity(ev)
    assert abs(dL) > 0.1 and abs(dpsi) < tol * abs(dL)
    arbitrary = ev._replace(adjoint=ev.arbitrary)
    dpsi_arbitrary, _ = equations.stationarity(arbitrary)
    assert abs(dpsi_arbitrary) > 0.1 * abs(dL)


def test_eq11_pointwise_and_in_integral_form(ev, tol):
    # λ̇ + λ ∂f/∂z = 0 on the grid, and λ(t_{i-1}⁺) = λ(t_i⁻) + ∫_{t_{i-1}}^{t_i} λ ∂f/∂z dt, with λ from the
    # solver and λ ∂f/∂z from f's forward-mode Jacobian.
    lam, on = ev.adjoint, ev.on_adjoint
    assert relative(lam.lam_dot, -on.lam_fz) < tol
    assert relative(lam.lam[:, 0], lam.lam[:, -1] + lg.simpson(on.lam_fz, ev.path.t)) < tol
    # the opposite sign of ∂f/∂z in the integral form is far off
    assert relative(lam.lam[:, 0], lam.lam[:, -1] - lg.simpson(on.lam_fz, ev.path.t)) > 100 * tol


def test_forward_mode_jacobians_match_reverse_mode():
    p = small_problem()
    path = lg.forward_path(p.f, p.z0, p.theta, p.ts, N_STEPS)
    jac = lg.jacobians_along(p.f, p.theta, path, p.z0.shape)
    t, z = path.t[0, 3], path.z[0, 3].reshape(p.z0.shape)
    reverse_z = jacobian(lambda x: p.f(x.reshape(p.z0.shape), p.theta, t))(np.ravel(z))
    assert relative(jac.f_z[0, 3], np.reshape(reverse_z, (z.size, z.size))) < 1e-13
    reverse_t = jacobian(lambda s: p.f(z, p.theta, s))(t)
    assert relative(jac.f_t[0, 3], np.ravel(reverse_t)) < 1e-13


@pytest.mark.filterwarnings("ignore::adjoint_ref.adjoint.AdjointDriftWarning")  # it drifts too, rightly
def test_a_third_order_solver_fails_the_order_column(monkeypatch):
    # Kutta's third-order rule: residuals of the forward-solution row fall by 8, not 16, per halving.
    def kutta3(f, z, theta, t, h):
        k1 = f(z, theta, t)
        k2 = f(z + (h / 2) * k1, theta, t + h / 2)
        k3 = f(z - h * k1 + 2 * h * k2, theta, t + h)
        return z + (h / 6) * (k1 + 4 * k2 + k3)
    monkeypatch.setattr(rk4, "rk4_step", kutta3)
    rows = equations.checked_rows(small_problem(), N_STEPS, seed=5, log=quiet)
    row = next(r for r in rows if r.equation == "(3)")
    assert row.residual <= row.tol  # small enough by size alone: the order is what catches it
    assert 2.5 < equations.order(row) < 3.4 and not equations.passed(row)


def test_the_rate_in_the_tolerance_is_the_problems_fastest():
    # ω is RATE = 3 for the default MLP (‖∂f/∂z‖ ≈ 1), and ‖∂f/∂z‖₂ = 50 for the contracting flow.
    from adjoint_ref.problems.models import contracting_problem
    for problem, expected in ((small_problem(), equations.RATE), (contracting_problem(), 50.0)):
        path = lg.forward_path(problem.f, problem.z0, problem.theta, problem.ts, N_STEPS)
        rate = equations.fastest_rate(lg.jacobians_along(problem.f, problem.theta, path, problem.z0.shape))
        assert rate == pytest.approx(expected, rel=1e-9)


@pytest.mark.filterwarnings("ignore::adjoint_ref.adjoint.AdjointDriftWarning")  # both drift, and say so
def test_equations_on_stiff_and_chaotic_zoo_problems():
    # Lorenz (‖∂f/∂z‖ ≈ 32) passes every row once ω is the problem's own rate and the finite
    # differences' floor is measured; on the contracting flow only the plain adjoint's own rows
    # fail, as they should: its backward z is garbage there (λ for the eq. (11) rows is then taken with
    # checkpoints, so the equation itself still checks out).
    from adjoint_ref.problems import zoo
    lorenz = equations.checked_rows(zoo.ZOO["lorenz"][0](), 120, log=quiet)
    assert all(equations.passed(row) for row in lorenz), [row for row in lorenz if not equations.passed(row)]
    contracting = equations.checked_rows(zoo.ZOO["contracting"][0](), 100, log=quiet)
    failed = [row.what for row in contracting if not equations.passed(row)]
    # the plain adjoint fails with a running cost too, and the dopri5 adjoint's backward z blows up
    assert failed == ["term 3, −∫_tN^t0 λ ∂f/∂θ dt, vs adjoint dL/dθ  [adjoint λ]",
                      "running cost ∫ ½‖f‖²(1 + ½ sin 3t) dt: adjoint vs backprop",
                      "rtol = atol = 1e-10: adjoint vs backprop through the same accepted steps (FloatingPointError)"]


# ---------------------------------------------------------------- every returned quantity reaches a row

# Each function of `lagrangian` that the table evaluates, and how many quantities it returns.
RETURNED = {"eq1_constraint": 1, "eq3_forward_solution": 1, "eq4_lagrangian": 1, "eq6_split": 2, "eq7_by_parts": 1,
            "eq8_constraint_derivative": 1, "eq9_constraint_derivative": 1, "eq10_terms": 3,
            "eq11_adjoint_multiplier": 2, "eq12_gradient": 1, "chain_rule": 1, "dL_dtn": 1, "dL_dt0": 1,
            "comment_dL_dt0": 1, "hamiltonian": 1}


def moved(function, index):
    """`function` with its result (index None) or result[index] moved by about 1 %, by a different amount at
    each entry (so that no difference of entries stays the same): x + 0.01 (1 + |x|) u, u in [0.5, 1.5)."""
    def move(x):
        u = 0.5 + np.random.default_rng(0).random(np.shape(x))
        return x + 0.01 * (1 + np.abs(x)) * u

    def mutated(*args, **kwargs):
        result = function(*args, **kwargs)
        if index is None:
            return move(result)
        parts = list(result)
        parts[index] = move(parts[index])
        return type(result)(*parts) if hasattr(result, "_fields") else tuple(parts)

    return mutated


def test_every_equation_function_is_listed():
    assert {name for name in dir(lg) if re.fullmatch(r"eq\d+_\w+", name)} == {n for n in RETURNED if n[:2] == "eq"}


@pytest.mark.parametrize("name, index", [(name, i if count > 1 else None) for name, count in RETURNED.items()
                                         for i in range(count)])
def test_every_returned_quantity_is_checked_by_a_row(name, index, ev, monkeypatch):
    # Issue 28: the second integral of eq. (6) was once compared with nothing, so a sign error there
    # passed the table. Now moving any quantity these functions return by ~1 % must fail a row.
    monkeypatch.setattr(lg, name, moved(getattr(lg, name), index))
    if name == "eq11_adjoint_multiplier":  # λ is computed by `evaluate`
        ev = equations.evaluate(small_problem(), N_STEPS, seed=5, log=quiet)
    failed = [row.equation for row in equations.equation_rows(ev) if not row.residual <= row.tol]
    assert failed, f"{name}[{index}] moved by 1 % and every row passed"
