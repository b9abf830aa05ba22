"""`ar.check`: every method compared with backprop, the parts that differ, and the verdict on why.

The broken derivative is a hand-written VJP registered with autograd.extend.defvjp, as a user with a
custom layer would write it, wrong for one parameter only: the report must name that parameter.
Each verdict is produced on a problem of its kind; `verdict` itself is also checked on numbers.
"""
import sys

import autograd.numpy as anp
import numpy as np
import pytest
from autograd.extend import defvjp, primitive

import adjoint_ref as ar
from adjoint_ref.diagnostics import check as check_module
from adjoint_ref.diagnostics.check import CHECK_METHODS, Part, part_differences, verdict
from adjoint_ref.problems.models import contracting_problem, default_problem


@primitive
def tanh_layer(z, W, b):
    """tanh(z W + b), a custom primitive whose VJPs are written by hand below."""
    return anp.tanh(anp.dot(z, W) + b)


def _vjp_z(ans, z, W, b):
    return lambda g: anp.dot(g * (1 - ans ** 2), W.T)


def _vjp_W(ans, z, W, b):
    return lambda g: anp.outer(z, g * (1 - ans ** 2))


def _vjp_b(ans, z, W, b):
    return lambda g: g * (1 - ans ** 2)


def _vjp_b_wrong(ans, z, W, b):
    return lambda g: g  # forgets tanh' = 1 − tanh²: a typical slip


defvjp(tanh_layer, _vjp_z, _vjp_W, _vjp_b)


@primitive
def broken_tanh_layer(z, W, b):
    """The same layer, with the wrong VJP for b."""
    return anp.tanh(anp.dot(z, W) + b)


defvjp(broken_tanh_layer, _vjp_z, _vjp_W, _vjp_b_wrong)


def layer_problem(layer, nested):
    """f(z, θ, t) = layer(z, W1, b1) W2 + b2 on a 2-D state, θ a dict or a nested list
    [W1, [b1, W2], b2] (so b1 is theta['b1'] or theta[1][0])."""
    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = rng.normal(size=(2, 5)) / 2, rng.normal(size=5) * 0.3, rng.normal(size=(5, 2)) / 3, np.zeros(2)
    if nested:
        theta = [W1, [b1, W2], b2]

        def f(z, theta, t):
            return anp.dot(layer(z, theta[0], theta[1][0]), theta[1][1]) + theta[2]
    else:
        theta = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}

        def f(z, theta, t):
            return anp.dot(layer(z, theta["W1"], theta["b1"]), theta["W2"]) + theta["b2"]
    return ar.Problem(f, np.array([1.0, -0.5]), theta, np.linspace(0.0, 1.0, 3), lambda zs: 0.5 * anp.sum(zs[1:] ** 2))


def run_check(p, n_steps=10, **options):
    return ar.check(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, **options)


@pytest.mark.parametrize("nested, path", [(False, "theta['b1']"), (True, "theta[1][0]")])
def test_a_wrong_hand_written_vjp_is_reported_by_its_parameter_path(nested, path):
    report = run_check(layer_problem(broken_tanh_layer, nested))
    assert not report.ok
    assert [v.kind for v in report.verdicts] == ["derivative"]
    parts = report.parts["finite_differences", "theta"]
    assert parts[0].path == path and parts[0].share > 0.999 and parts[0].difference > 1e-2
    assert all(part.difference < 1e-8 for part in parts[1:])  # the other leaves are right
    assert ("finite_differences", "z0") not in report.parts and ("finite_differences", "ts") not in report.parts
    text = str(report)
    assert f"{path}" in text and "<-" in text.split(path)[1].split("\n")[0]
    assert "verdict (derivative)" in text and "defvjp" in text and text.rstrip().endswith("above 1e-06")


@pytest.mark.parametrize("nested", [False, True])
def test_a_correct_hand_written_vjp_passes(nested):
    report = run_check(layer_problem(tanh_layer, nested))
    assert report.ok and report.parts == {} and [v.kind for v in report.verdicts] == ["agree"]
    assert set(report.methods) == set(CHECK_METHODS) and report.reference == "backprop"
    assert max(report.differences.values()) < 1e-6
    assert "verdict (agree)" in str(report) and "FAIL" not in str(report)


def test_too_few_steps_is_discretisation_with_the_observed_order():
    p = default_problem(hidden=4, batch=0)
    report = run_check(p, n_steps=2, tol=1e-8)
    kinds = [v.kind for v in report.verdicts]
    assert kinds == ["steps"], report
    # RK4 is order 4: the gap falls by 2⁴ = 16 when the steps double (observed 16.1 here)
    worst = max(report.refined, key=lambda m: max(report.differences[m, q] for q in ("z0", "theta", "ts")))
    ratio = max(report.differences[worst, q] for q in ("z0", "theta", "ts")) / report.refined[worst]
    assert 12 < ratio < 20
    assert "observed order 4.0" in report.verdicts[0].text and "n_steps=" in report.verdicts[0].text
    # the exact methods agree whatever the steps
    assert all(report.differences[m, q] < 1e-8 for m in ("discrete_adjoint", "finite_differences")
               for q in ("z0", "theta", "ts"))


def test_a_kink_in_t_costs_rk4_its_order():
    # f = θ |t − 0.537| z: the kink falls inside an RK4 step, and the adjoint's gap falls ~4× (order 2)
    report = ar.check(lambda zs: anp.sum(zs[1:] ** 2), lambda z, th, t: th * anp.abs(t - 0.537) * z,
                      np.array([1.0]), np.array(1.0), np.array([0.0, 1.0]), 10)
    assert [v.kind for v in report.verdicts] == ["low order"], report


def test_a_discontinuous_f_does_not_converge():
    # f = −θ sign(z − 0.437) − z: the solution slides along the discontinuity, where the continuous
    # adjoint is meaningless; its backward z drifts too
    report = ar.check(lambda zs: anp.sum(zs[1:] ** 2), lambda z, th, t: -th * anp.sign(z - 0.437) - z,
                      np.array([1.0]), np.array(1.0), np.array([0.0, 1.0]), 10)
    assert [v.kind for v in report.verdicts] == ["drift", "no convergence"], report


def test_a_drifting_adjoint_is_named_and_the_checkpointed_one_passes():
    p = contracting_problem()
    report = run_check(p, n_steps=100)
    assert [v.kind for v in report.verdicts] == ["drift"]
    assert {m for m, q in report.parts} == {"adjoint"}  # only the plain adjoint fails
    row = report.runs["adjoint"].drift[0]
    assert row.drift > 1e3 * row.threshold and row.ratio > 1e3 and "DRIFT" in str(report)
    auto = run_check(p, n_steps=100, checkpoints="auto")  # as `--problem contracting` runs it
    assert auto.ok and auto.runs["adjoint"].warnings[0].rerun == 10
    assert "ran the backward pass again with checkpoints=10" in str(auto)


def test_the_drift_is_shown_when_all_is_well():
    report = run_check(default_problem(hidden=4, batch=0), n_steps=10)
    drift = report.runs["adjoint"].drift
    assert len(drift) == 4 and all(row.ok and row.drift < row.threshold for row in drift)
    assert "adjoint drift" in str(report) and "  ok" in str(report).split("adjoint drift")[1].split("\n")[0]


def test_verdict_on_numbers():
    tol = 1e-6
    assert [v.kind for v in verdict(tol, {}, {}, False, 10)] == ["agree"]
    assert [v.kind for v in verdict(tol, {"finite_differences": 0.1}, {}, False, 10)] == ["derivative"]
    assert [v.kind for v in verdict(1e-12, {"finite_differences": 1e-10}, {}, False, 10)] == ["resolution"]
    assert [v.kind for v in verdict(tol, {"discrete_adjoint": 1e-3}, {}, False, 10)] == ["exact"]
    for refined, kind in ((1.6e-5 / 16, "steps"), (1.6e-5 / 8.5, "steps"), (1.6e-5 / 7.5, "low order"),
                          (1.6e-5 / 1.5, "low order"), (1.6e-5 / 1.3, "no convergence")):
        assert [v.kind for v in verdict(tol, {"adjoint": 1.6e-5}, {"adjoint": refined}, False, 10)] == [kind]
    steps = verdict(tol, {"adjoint": 1.6e-5}, {"adjoint": 1e-6}, False, 10)[0].text
    assert "n_steps=24" in steps  # 10 · (1.6e-5 / (tol / 2))^(1/4) = 23.8, rounded up
    assert [v.kind for v in verdict(tol, {"adjoint": 1.0}, {}, True, 10)] == ["drift"]


def test_part_differences_by_path():
    a = {"w": np.array([1.0, 2.0]), "b": np.array(3.0)}
    b = {"w": np.array([1.0, 2.0]), "b": np.array(4.0)}
    assert part_differences(a, b, "theta", a) == [Part("theta['b']", 0.25, 1.0), Part("theta['w']", 0.0, 0.0)]
    ts = part_differences(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]), "ts", None)
    assert [(p.path, p.share) for p in ts][0] == ("ts[1]", 1.0)
    assert part_differences(np.ones(2), np.ones(2), "z0", None) == [Part("z0", 0.0, 0.0)]


def test_methods_budget_and_progress(monkeypatch):
    p = default_problem(hidden=3, batch=0, n_times=3)
    calls = []
    report = run_check(p, 4, tol=1e-3, methods=["adjoint", "backprop"], progress=lambda *a: calls.append(a))
    assert report.methods == ["backprop", "adjoint"] and report.skipped == {}
    assert [c[:2] for c in calls] == [(0, 2), (1, 2)] and "adjoint at 4 steps" in calls[1][2]
    monkeypatch.setattr(sys.modules["adjoint_ref.diagnostics.check"], "BUDGET", 0.0)  # ar.check is the function
    report = run_check(p, 4)
    assert set(report.skipped) == {"finite_differences", "forward_sensitivity"}
    assert "skipped: finite_differences: " in str(report) and "name it in methods" in str(report)
    with pytest.raises(ValueError, match="methods"):
        run_check(p, 4, methods=["adjoint"])
    with pytest.raises(ValueError, match="methods"):
        run_check(p, 4, methods=["adjoint", "rk4"])
    with pytest.raises(ValueError, match="tol"):
        run_check(p, 4, tol=0)


def test_a_method_that_breaks_down_is_reported_not_raised():
    # eigenvalue −1000, 400 steps (h·1000 = 2.5, inside RK4's stability region forwards): backwards
    # the fast direction grows like e^1000, and the plain adjoint's z overflows (FloatingPointError)
    p = contracting_problem(fast=1000.0)
    report = run_check(p, n_steps=400, methods=["backprop", "adjoint"])
    assert not report.ok and report.runs["adjoint"].error.startswith("FloatingPointError")
    assert [v.kind for v in report.verdicts] == ["failed"] and report.refined == {}
    assert "adjoint failed: FloatingPointError" in str(report)


def test_the_drift_warning_of_gradients_still_names_the_callers_line():
    # gradients and check share the forward pass and the assembly (api.forward_and_loss, api.collected);
    # gradients calls the pullback itself, so the adjoint's warning points at this file
    p = contracting_problem()
    with pytest.warns(ar.AdjointDriftWarning) as caught:
        ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 100)
    assert caught[0].filename == __file__


# ---------------------------------------------------------------- the decisions themselves
# Plain functions without fixtures, so that tests/test_mutants.py can run them against a broken `check`.

def test_one_difference_above_tol_makes_the_report_not_ok():
    differences = {("adjoint", "z0"): 1e-9, ("adjoint", "theta"): 3e-6, ("discrete_adjoint", "ts"): 1e-15}
    assert check_module.exceeding(differences, 1e-6) == [("adjoint", "theta")]
    assert check_module.exceeding({key: 1e-9 for key in differences}, 1e-6) == []
    assert check_module.exceeding({("adjoint", "ts"): np.nan}, 1e-6) == [("adjoint", "ts")]  # NaN is not within tol
    # the same through `check`: at 2 steps the adjoint is ~1e-4 from backprop, the discrete adjoint ~1e-16
    p = default_problem(hidden=3, batch=0, n_times=3)
    methods = ["backprop", "discrete_adjoint", "adjoint"]
    failing = run_check(p, 2, tol=1e-8, methods=methods)
    assert not failing.ok and "FAIL" in str(failing)
    assert [line.split()[0] for line in str(failing).splitlines() if line.endswith("  FAIL")] == ["adjoint"]
    assert run_check(p, 2, tol=1e-2, methods=methods).ok


def test_the_budget_skips_only_the_methods_whose_cost_grows_with_the_inputs():
    p = default_problem(hidden=3, batch=0, n_times=3)
    problem = (p.loss, p.f, p.z0, p.theta, p.ts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(check_module, "BUDGET", 0.0)  # every estimate is above it
        chosen, skipped = check_module._choose(None, problem, 4)
        assert set(skipped) == {"finite_differences", "forward_sensitivity"}
        assert chosen == ["backprop", "discrete_adjoint", "adjoint", "checkpointed"]
        mp.setattr(check_module, "BUDGET", np.inf)  # none is
        chosen, skipped = check_module._choose(None, problem, 4)
        assert skipped == {} and len(chosen) == 6


def test_a_16_fold_fall_per_doubling_is_discretisation_and_no_fall_is_not():
    tol, gap = 1e-6, 1.6e-5
    assert [v.kind for v in verdict(tol, {"adjoint": gap}, {"adjoint": gap / 16}, False, 10)] == ["steps"]
    assert [v.kind for v in verdict(tol, {"adjoint": gap}, {"adjoint": gap}, False, 10)] == ["no convergence"]
    assert [v.kind for v in verdict(tol, {"adjoint": gap}, {"adjoint": 16 * gap}, False, 10)] == ["no convergence"]


# --- issue 22: drift named as drift, one verdict per derivative bug, wrt and the floor, dopri5 ------------

def stiff_upper_problem():
    """The issue-22 case: dz/dt = A z, A = [[−1, 0.3], [0, −80]], L = sum(z(1)); 100 RK4 steps (hλ = 0.8)."""
    from adjoint_ref.problems.models import linear_dynamics
    return ar.Problem(linear_dynamics, np.array([1.0, 0.5]), np.array([[-1.0, 0.3], [0.0, -80.0]]),
                      np.array([0.0, 1.0]), lambda zs: anp.sum(zs[-1]))


@pytest.mark.parametrize("quiet_warning", [False, True])
def test_drift_is_the_verdict_when_checkpoints_reach_much_further(quiet_warning, monkeypatch):
    # plain adjoint 3.0e-3 from backprop, checkpointed at the same 100 steps 2.9e-6: drift, not "steps:
    # use about n_steps=883". With the drift criterion silenced, the comparison alone still says so.
    if quiet_warning:
        monkeypatch.setattr(sys.modules["adjoint_ref._impl.drift"], "EFFECT_MARGIN", 1e12)
    report = run_check(stiff_upper_problem(), n_steps=100, methods=["backprop", "adjoint", "checkpointed"])
    assert bool(report.runs["adjoint"].warnings) is not quiet_warning
    assert report.differences["adjoint", "theta"] > 1e3 * report.differences["checkpointed", "theta"]
    kinds = [v.kind for v in report.verdicts]
    assert kinds[0] == "drift" and "adjoint" not in report.refined, report
    drift = report.verdicts[0].text
    assert "checkpoints=10" in drift and "at the same 100 steps" in drift and "n_steps=" not in drift


def test_verdict_on_numbers_drift_with_checkpoints():
    found = verdict(1e-6, {"adjoint": 3e-3}, {}, True, 100, checkpointed=(10, 2.9e-6))
    assert [v.kind for v in found] == ["drift"] and "is 2.9e-06" in found[0].text


@primitive
def z_broken_tanh_layer(z, W, b):
    """The layer with the wrong VJP for z (forgets tanh'), the others right."""
    return anp.tanh(anp.dot(z, W) + b)


defvjp(z_broken_tanh_layer, lambda ans, z, W, b: (lambda g: anp.dot(g, W.T)), _vjp_W, _vjp_b)


def test_a_wrong_z_cotangent_points_at_z0_with_one_verdict():
    report = run_check(layer_problem(z_broken_tanh_layer, False))
    assert [v.kind for v in report.verdicts] == ["derivative"] and report.refined == {}
    assert "with respect to z" in report.verdicts[0].text
    lines = str(report).split("part by part")[1].split("\n\n")[0].splitlines()
    marked = [line.split()[1] for line in lines[1:] if line.endswith("<-")]
    assert marked == ["z0"], lines  # not the θ leaves, which only inherit the wrong λ


def test_a_wrong_theta_cotangent_shows_z0_agreeing_in_the_same_table():
    report = run_check(layer_problem(broken_tanh_layer, False))
    text = str(report)
    assert "dL/dz0  z0" in text.split("part by part")[1] and "with respect to the θ leaves" in text


def relaxing_problem():
    """dz/dt = −k (z − c) on [0, 6]: z has settled by t = 6, so |dL/dts| ≈ 0.01 against |dL/dθ| ≈ 1."""
    return ar.Problem(lambda z, th, t: -th["k"] * (z - th["c"]), np.array([1.0, 2.0]),
                      {"k": np.array(1.0), "c": np.array([0.5, -0.3])}, np.array([0.0, 6.0]),
                      lambda zs: anp.sum((zs[-1] - 1.0) ** 2))


def test_a_tiny_gradient_is_held_to_a_floor_scaled_by_the_others():
    # at 50 steps dL/dts is 9.7e-6 off relative but 1e-7 absolute, far below 1e-6 × |dL/dθ|
    p, methods = relaxing_problem(), ["backprop", "adjoint"]
    report = run_check(p, 50, methods=methods)
    assert report.differences["adjoint", "ts"] > 5e-6 and report.differences["adjoint", "theta"] < 1e-6
    assert report.ok and 50e-6 < report.tolerances["ts"] < 500e-6 and report.tolerances["theta"] == 1e-6
    assert "tolerance" in str(report).split("time/grad")[1]  # the row stating each quantity's tolerance
    alone = run_check(p, 50, methods=methods, wrt=("ts",))  # compared alone, its own norm is the scale
    assert not alone.ok and list(alone.differences) == [("adjoint", "ts")] and "dL/dθ" not in str(alone)
    assert run_check(p, 50, methods=methods, wrt="theta").ok
    with pytest.raises(ValueError, match="wrt"):
        run_check(p, 50, methods=methods, wrt=("lambda",))


def test_check_for_dopri5_compares_its_methods_with_tolerance_aware_verdicts():
    p = default_problem(hidden=3, batch=0, n_times=3)
    report = ar.check(p.loss, p.f, p.z0, p.theta, p.ts, solver="dopri5", rtol=1e-5, atol=1e-7, tol=1e-9)
    assert report.methods == ["backprop", "adjoint", "finite_differences"] and not report.ok
    assert all(report.differences["finite_differences", q] < 1e-8 for q in ("z0", "theta", "ts"))
    assert [v.kind for v in report.verdicts] == ["tolerances"] and "rtol=" in report.verdicts[0].text
    assert "dopri5, adaptive steps at rtol=1e-05" in str(report) and "again at rtol=1e-07" in str(report)
    assert ar.check(p.loss, p.f, p.z0, p.theta, p.ts, solver="dopri5", methods=["backprop", "adjoint"]).ok
    with pytest.raises(ValueError, match="n_steps applies to solver='rk4'"):
        ar.check(p.loss, p.f, p.z0, p.theta, p.ts, 10, solver="dopri5")
    with pytest.raises(ValueError, match="methods"):
        ar.check(p.loss, p.f, p.z0, p.theta, p.ts, solver="dopri5", methods=["backprop", "checkpointed"])
