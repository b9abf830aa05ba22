"""The checkpointed continuous adjoint: it fixes strongly contracting dynamics, where integrating z
backwards ("backsolve") amplifies round-off like e^{kT}; elsewhere it agrees with the backsolve.

The contracting problem is dz/dt = A z, A = Q diag(−1, −50) Qᵀ, L = w·z(1) (models.contracting_problem).
Its exact gradient dL/dA comes from Van Loan's block exponential (tests/reference.py). Round-off
ε ≈ 1e-16 in z(1) along the fast direction grows by e^{50} ≈ 5e21 backwards, so the backsolve's z is
garbage and so is its dL/dA. Re-integrating z forwards from checkpoints keeps only RK4's error.
"""
import warnings

import numpy as np
import pytest
from autograd import grad

import adjoint_ref as ar
from adjoint_ref.adjoint import adjoint_gradients
from adjoint_ref.problems.models import contracting_problem, default_problem
from adjoint_ref.rk4 import integrate, step_states
from reference import expm_derivative, relative, rk4_error_bound

FAST = 50.0


def exact_dL_dA(problem):
    z0, A, (t0, t1) = problem.z0, problem.theta, problem.ts
    w = np.array([1.0, -2.0])
    unit = np.eye(2)
    return np.array([[w @ expm_derivative(A, np.outer(unit[j], unit[k]), t1 - t0) @ z0 for k in range(2)]
                     for j in range(2)])


def adjoint_dL_dA(problem, n_steps, checkpoints):
    p = problem
    return ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, "adjoint", checkpoints=checkpoints).theta


def test_backsolve_fails_on_the_contracting_problem_and_says_so():
    p = contracting_problem(fast=FAST)
    with pytest.warns(ar.AdjointDriftWarning, match="checkpoints"):
        assert relative(adjoint_dL_dA(p, 100, None), exact_dL_dA(p)) > 1.0  # wrong by more than 100%


@pytest.mark.parametrize("checkpoints", [1, 4])
def test_checkpoints_fix_it_down_to_rk4_error(checkpoints):
    p = contracting_problem(fast=FAST)
    exact = exact_dL_dA(p)
    steps = [50, 100, 200]
    errors = [relative(adjoint_dL_dA(p, n, checkpoints), exact) for n in steps]
    # Pure discretisation error: it falls like h⁴ (log-log slope −4) and stays within RK4's bound.
    slopes = np.diff(np.log(errors)) / np.diff(np.log(steps))
    assert np.all((slopes < -3.5) & (slopes > -4.5)), slopes
    assert errors[-1] < rk4_error_bound(FAST, 1.0, 1.0 / steps[-1])


def backward_z_error(p, n_steps, checkpoints):
    """max over the backward steps of ‖z used by the backward pass − z of a forward RK4 pass‖."""
    dL_dzs = np.zeros((2,) + p.z0.shape)
    dL_dzs[-1] = 1.0
    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ar.AdjointDriftWarning)  # the point here is to measure the drift
        back = adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, dL_dzs, checkpoints=checkpoints, trace=True)
    t0, t1 = p.ts
    forward = step_states(p.f, p.z0, p.theta, t0, t1, n_steps)
    return max(np.linalg.norm(z - forward[int(round((t - t0) / (t1 - t0) * n_steps))]) for t, z in zip(back.t, back.z))


def test_backward_z_follows_the_forward_z_only_with_checkpoints():
    # The checkpointed pass re-integrates z at half steps, so it differs from the forward pass by
    # the forward pass's RK4 error. On the fast mode one step errs by |R(x) − e^x| relative, with
    # R(x) = 1 + x + x²/2 + x³/6 + x⁴/24 and x = −50h; the mode decays by e^x per step, so the error
    # accumulated over k steps, k·|R − e^x|·e^{(k−1)x}, peaks near 1.2× one step's and then decays.
    # One step's relative error times |z0| (> 1.2 × the fast part of z0, 0.15) bounds it.
    p = contracting_problem(fast=FAST)
    n_steps = 100
    x = -FAST / n_steps
    one_step = abs(1 + x + x ** 2 / 2 + x ** 3 / 6 + x ** 4 / 24 - np.exp(x))
    assert backward_z_error(p, n_steps, None) > 1.0
    assert backward_z_error(p, n_steps, 5) < one_step * np.linalg.norm(p.z0)


def test_the_gap_drawn_in_reconstruction_error_png():
    # The figure and its caption (derivation/README.md, caveats): 200 steps, K = 4: the checkpointed
    # gap is RK4's own error at step h, about 1e-6 (observed 1.5e-6), not zero and not round-off.
    gap = backward_z_error(contracting_problem(fast=FAST), 200, 4)
    assert 3e-7 < gap < 5e-6


@pytest.mark.parametrize("checkpoints, reverse", [(1, False), (3, False), (10, False), (25, False), (3, True)])
def test_agrees_with_backprop_on_the_default_problem(checkpoints, reverse):
    # Non-stiff: every variant is the continuous adjoint, within RK4's O(h⁴) ≲ 1e-6 of backprop
    # (h = 0.025, as in test_gradients.py); checkpoints > n_steps means one checkpoint per step.
    p = default_problem(hidden=8, batch=2, seed=3)
    if reverse:
        p = p._replace(ts=p.ts[::-1].copy())
    ref = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 10, "backprop")
    g = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 10, "adjoint", checkpoints=checkpoints)
    for q in ("z0", "theta", "ts"):
        assert relative(getattr(g, q), getattr(ref, q)) < 1e-6, q


def test_autograd_through_odeint_with_checkpoints():
    p = default_problem(hidden=6, batch=2, seed=3)

    def objective(theta):
        return p.loss(ar.odeint(p.f, p.z0, theta, p.ts, 10, checkpoints=3))

    ref = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 10, "adjoint", checkpoints=3)
    assert relative(grad(objective)(p.theta), ref.theta) < 1e-13


@pytest.mark.parametrize("value, error, words", [
    (0, ValueError, "checkpoints must be a positive integer, got 0"),
    (2.5, TypeError, "checkpoints must be a positive integer, got 2.5"),
    (True, TypeError, "checkpoints must be a positive integer, got True"),
])
def test_bad_checkpoints_are_named(value, error, words):
    p = default_problem(hidden=3)
    with pytest.raises(error, match=words):
        ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 4, checkpoints=value)
    with pytest.raises(error, match=words):
        ar.odeint(p.f, p.z0, p.theta, p.ts, 4, checkpoints=value)


def test_checkpoints_only_apply_to_the_adjoint():
    p = default_problem(hidden=3)
    with pytest.raises(ValueError, match="checkpoints applies to method='adjoint' only, got method='backprop'"):
        ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 4, "backprop", checkpoints=2)
    with pytest.raises(ValueError, match="checkpoints applies to gradient='adjoint' only"):
        ar.odeint(p.f, p.z0, p.theta, p.ts, 4, gradient="backprop", checkpoints=2)
