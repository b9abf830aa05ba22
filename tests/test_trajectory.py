"""The backward pass seen whole (`ar.adjoint_trajectory`), steps per interval, and RK4's counts in `stats`.

The trajectory must be the backward pass `ar.gradients` runs: it ends where the adjoint's gradient is
(λ(t0) = dL/dz0, a_θ(t0) = dL/dθ), λ jumps by ∂L/∂z(t_i) (taken here from autograd on the loss, not from the
package), and on a smooth problem its backward z stays on the forward z within the drift thresholds
(on the contracting problem it does not: the same comparison fails there by orders of magnitude).
"""
import math
import warnings

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import adjoint_ref as ar
from adjoint_ref._impl import fast_vjp
from adjoint_ref._impl.counts import Counted
from adjoint_ref._impl.tree import ravel_tree
from adjoint_ref.problems.models import (contracting_problem, damped_pendulum, default_problem, observing_t0,
                                         pendulum_problem)
from reference import relative

METHODS = ("adjoint", "backprop", "finite_differences", "forward_sensitivity", "discrete_adjoint")


def small():
    """A 2-3-2 MLP (θ a dict of arrays) observed at five times, t0 included (so that λ jumps at t0 too)."""
    return observing_t0(default_problem(hidden=3, batch=0))


def relative_gaps(tr):
    """‖z_back − z_forward‖ / ‖z_forward‖ at every row."""
    return np.linalg.norm(tr.z - tr.z_forward, axis=-1) / np.linalg.norm(tr.z_forward, axis=-1)


@pytest.mark.parametrize("options", [dict(n_steps=4), dict(n_steps=[1, 2, 3, 4]), dict(n_steps=4, checkpoints=2),
                                     dict(step_size=0.1), dict(solver="dopri5", rtol=1e-6, atol=1e-8)],
                         ids=["rk4", "per-interval", "checkpointed", "step_size", "dopri5"])
def test_the_trajectory_ends_at_the_adjoint_gradient_and_jumps_by_dL_dz(options):
    p = small()
    tr = ar.adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, **options)
    g = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, **options)
    assert np.array_equal(tr.lam[-1], g.z0) and np.array_equal(tr.a_t[-1], g.ts[0])
    assert np.array_equal(ravel_tree(tr.a_theta_tree(-1)), ravel_tree(g.theta)) and set(tr.a_theta_tree(0)) == set(p.theta)
    assert np.array_equal(tr.a_theta[0], np.zeros_like(tr.a_theta[0]))  # a_θ(t_N) = 0
    assert np.array_equal(ravel_tree(tuple(tr.gradients)), ravel_tree(tuple(g)))
    zs = ar.odeint(p.f, p.z0, p.theta, p.ts, **({k: v for k, v in options.items() if k != "checkpoints"}))
    assert np.allclose(tr.jumps.lam, grad(p.loss)(zs)[::-1], rtol=0, atol=1e-14)  # t_N first
    assert np.array_equal(tr.jumps.t, p.ts[::-1]) and np.all(np.diff(tr.t) <= 0)
    assert np.array_equal(tr.z[tr.jumps.row], zs[::-1])  # after each jump z restarts from the stored z(t_i)


@pytest.mark.parametrize("options", [dict(n_steps=[3, 1, 2, 5]), dict(solver="dopri5", rtol=1e-7, atol=1e-9)],
                         ids=["rk4", "dopri5"])
def test_the_backward_z_is_the_forward_z_to_the_drift_threshold_on_a_smooth_problem(options):
    p = small()
    tr = ar.adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, **options)
    assert max(relative_gaps(tr)) <= min(d.threshold for d in tr.drift)
    assert max(relative_gaps(tr)) > 0  # the backward z is really integrated, not copied


def test_the_backward_z_leaves_the_forward_z_on_the_contracting_problem():
    p = contracting_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ar.AdjointDriftWarning)
        tr = ar.adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, n_steps=50)
    assert max(relative_gaps(tr)) > 1e3 * tr.drift[0].threshold
    with pytest.warns(ar.AdjointDriftWarning, match="ran the backward pass again"):
        fixed = ar.adjoint_trajectory(p.loss, p.f, p.z0, p.theta, p.ts, n_steps=50, checkpoints="auto")
    backprop = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 50, "backprop").theta
    assert relative(fixed.gradients.theta, backprop) < 4e-5 < 0.1 < relative(tr.gradients.theta, backprop)  # 4.1e-6 seen


@pytest.mark.parametrize("method", METHODS)
def test_equal_steps_per_interval_are_one_n_steps(method):
    p = default_problem(hidden=3, batch=0)
    one = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 3, method)
    each = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, (3, 3, 3, 3), method)
    by_size = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, method=method, step_size=0.25 / 3)
    assert np.array_equal(ravel_tree(one), ravel_tree(each)) and np.array_equal(ravel_tree(one), ravel_tree(by_size))
    cost = {"running_loss": lambda z, theta, t: 0.5 * anp.sum(z ** 2)}
    one, each = (ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, steps, method, **cost) for steps in (2, [2, 2, 2, 2]))
    assert np.array_equal(ravel_tree(one), ravel_tree(each))


def test_per_interval_steps_converge_at_order_4_on_irregular_times():
    p = pendulum_problem()
    ts = np.array([0.0, 0.3, 2.9, 3.2, 5.0])  # intervals from 0.3 to 2.6 long

    def loss(zs):
        return anp.sum(zs[1:] ** 2)

    def dL_dtheta(h, method="adjoint"):
        return ar.gradients(loss, damped_pendulum, p.z0, p.theta, ts, method=method, step_size=h).theta

    reference = dL_dtheta(0.3 / 8, "discrete_adjoint")  # its error is 1/256 of that at h = 0.15
    errors = [relative(dL_dtheta(h), reference) for h in (0.3, 0.15)]
    assert 3.5 < math.log2(errors[0] / errors[1]) < 4.5, errors


@pytest.mark.parametrize("method, checkpoints", [(m, None) for m in METHODS] + [("adjoint", 2), ("adjoint", "auto")])
def test_rk4_stats_count_what_a_counter_around_f_counts(method, checkpoints, monkeypatch):
    # every stage traced (no replay of f's recording), so that each backward stage is one VJP of f
    monkeypatch.setattr(fast_vjp, "REPLAY", False)
    p = default_problem(hidden=3, batch=0, n_times=4)
    steps = (1, 2, 3)
    f, stats = Counted(p.f), {}
    ar.gradients(p.loss, f, p.z0, p.theta, p.ts, steps, method, checkpoints=checkpoints, stats=stats)
    forward, backward = stats["forward"], stats["backward"]
    assert forward["f_evals"] + backward["f_evals"] + 1 == f.evaluations  # + 1: the check of f before any work
    assert forward["vjps"] + backward["vjps"] == f.vjps
    assert forward["accepted"] == 6 and forward["rejected"] == backward["rejected"] == 0
    if method != "backprop":  # backprop: + 4, the memory guard records one step of f
        assert forward["f_evals"] == 4 * 6
    if method in ("adjoint", "discrete_adjoint"):  # one VJP per backward RK4 stage
        assert backward["vjps"] == 4 * backward["accepted"] == 4 * 6
    if checkpoints == 2:  # the segments before the last (1, 1, 1 steps) and every step at half steps (2 n_i)
        assert backward["recomputed"] == (0 + 1 + 1) + 2 * 6
        assert backward["f_evals"] - backward["vjps"] == 4 * backward["recomputed"] + 3  # + dz/dt at t_3, t_2, t_1


def test_checkpoints_auto_counts_its_second_pass(monkeypatch):
    monkeypatch.setattr(fast_vjp, "REPLAY", False)  # every stage traced: one VJP of f each
    p = contracting_problem()
    stats = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ar.AdjointDriftWarning)
        ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 16, checkpoints="auto", stats=stats)
    assert stats["backward"]["reruns"] == 1 and stats["backward"]["accepted"] == 2 * 16
    # the plain pass (16 steps), the drift check's checkpointed re-runs of the interval at 16 and 32 steps
    # (_impl/drift.py: z drifted above the free bound), and the checkpointed second pass (16)
    assert stats["backward"]["vjps"] == 4 * (16 + 16 + 32 + 16)
    stats, smooth = {}, small()
    ar.gradients(smooth.loss, smooth.f, smooth.z0, smooth.theta, smooth.ts, 4, checkpoints="auto", stats=stats)
    assert stats["backward"]["reruns"] == 0 and stats["backward"]["vjps"] == 4 * 4 * 4


@pytest.mark.parametrize("options, error, message", [
    (dict(n_steps=[1, 2]), ValueError, "n_steps must be one positive integer or a flat sequence of 4"),
    (dict(n_steps=[1, 2, 0, 1]), ValueError, r"n_steps\[2\] must be a positive integer, got 0"),
    (dict(n_steps=[1, 2, 2.5, 1]), TypeError, r"n_steps\[2\] must be a positive integer, got 2.5"),
    (dict(n_steps=2.0), TypeError, "n_steps must be a positive integer, got 2.0"),
    (dict(step_size=0.0), ValueError, "step_size must be a positive, finite number, got 0.0"),
    (dict(step_size="0.1"), TypeError, "step_size must be a positive, finite number"),
    (dict(step_size=0.1, n_steps=3), ValueError, "give n_steps .* or step_size .*, not both"),
    (dict(step_size=0.1, solver="dopri5"), ValueError, "step_size applies to solver='rk4' only"),
])
@pytest.mark.parametrize("call", ["gradients", "odeint", "adjoint_trajectory", "check"])
def test_step_arguments_are_checked_by_name(options, error, message, call):
    p = default_problem(hidden=2, batch=0)
    if call == "check" and "solver" in options:
        return
    with pytest.raises(error, match=message):
        if call == "odeint":
            ar.odeint(p.f, p.z0, p.theta, p.ts, **options)
        else:
            getattr(ar, call)(p.loss, p.f, p.z0, p.theta, p.ts, **options)
