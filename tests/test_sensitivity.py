"""Forward sensitivities S = [dz/dz0, dz/dθ]: the Jacobian itself, and gradients(method="forward_sensitivity").

RK4 applied to [z, S] is the exact derivative of RK4 applied to z (Runge–Kutta methods commute with
differentiation), so S must match backprop through the RK4 stages up to rounding: ROUND_OFF. Against
central finite differences the error is theirs, ε^(2/3) ≈ 4e-11 times the scale: FD_TOL = 1e-8.
The closed-form problems in test_closed_form.py also run with method="forward_sensitivity".
"""
import autograd.numpy as anp
import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref._impl.tree import ravel_tree, unravel_like
from adjoint_ref.finite_differences import fd_vjp
from adjoint_ref.problems.models import default_problem
from adjoint_ref.rk4 import integrate
from adjoint_ref.sensitivity import forward_sensitivities
from reference import relative

ROUND_OFF = 1e-12
FD_TOL = 1e-8


def test_sensitivity_matrix_against_finite_differences():
    p = default_problem(hidden=3, batch=0, seed=2, n_times=3)
    n, theta_flat = p.z0.size, ravel_tree(p.theta)
    zs, Ss = forward_sensitivities(p.f, p.z0, p.theta, p.ts, 6)
    assert Ss.shape == (3, n, n + theta_flat.size)
    assert np.array_equal(Ss[0], np.eye(n, n + theta_flat.size))  # S(t0) = [I, 0]
    assert np.array_equal(zs, integrate(p.f, p.z0, p.theta, p.ts, 6))  # the same arithmetic on z

    def solve(x):  # z at every observation time, as a function of the flat [z0, θ]
        return np.ravel(integrate(p.f, x[:n], unravel_like(x[n:], p.theta), p.ts, 6))

    x = np.concatenate([p.z0, theta_flat])
    fd_rows = np.array([fd_vjp(solve, x, unit) for unit in np.eye(zs.size)])
    assert relative(Ss.reshape(zs.size, -1), fd_rows) < FD_TOL


@pytest.mark.parametrize("batch", [0, 3], ids=["vector", "batch"])
def test_forward_sensitivity_equals_backprop_to_rounding(batch):
    p = default_problem(hidden=5, batch=batch, seed=4)
    fs, bp, adj = (ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 6, m)
                   for m in ("forward_sensitivity", "backprop", "adjoint"))
    assert relative(fs.z0, bp.z0) < ROUND_OFF
    assert relative(fs.theta, bp.theta) < ROUND_OFF
    assert list(fs.theta) == list(p.theta) and fs.loss == bp.loss
    # dL/dt_i = ∂L/∂z(t_i)·f(z(t_i)) for i ≥ 1 is the same formula as the adjoint's, on the same z.
    assert relative(fs.ts[1:], adj.ts[1:]) < ROUND_OFF


def test_only_the_time_gradients_differ_from_backprop_by_h4():
    # README ("Check your own model"): dL/dz0 and dL/dθ equal backprop to round-off at every step count,
    # dL/dts differs by O(h⁴) (observed 1.4e-6, 8.5e-8, 5.3e-9 at 4, 8, 16 steps: order 4.0); and finite
    # differences sit near their own error, 1e-11 to 1e-9 here, far above round-off and far below tol.
    p = default_problem(hidden=5, seed=4)
    gaps = []
    for n_steps in (4, 8, 16):
        fs, bp, fd = (ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, m)
                      for m in ("forward_sensitivity", "backprop", "finite_differences"))
        assert relative(fs.z0, bp.z0) < ROUND_OFF and relative(fs.theta, bp.theta) < ROUND_OFF
        assert 1e-12 < relative(fd.theta, bp.theta) < 1e-8 and 1e-12 < relative(fd.ts, bp.ts) < 1e-8
        gaps.append(relative(fs.ts, bp.ts))
    orders = np.log2(np.array(gaps[:-1]) / gaps[1:])
    assert gaps[-1] > 1e3 * ROUND_OFF and np.all((orders > 3.5) & (orders < 4.5)), (gaps, orders)


def test_forward_sensitivity_with_list_parameters_and_decreasing_times():
    rng = np.random.default_rng(1)
    theta = [rng.normal(size=(2, 2)) * 0.5, (rng.normal(size=2), 0.7)]

    def f(z, theta, t):
        A, (b, c) = theta
        return anp.tanh(anp.dot(z, A) + b) * c

    z0, ts = rng.normal(size=2), np.array([1.0, 0.6, 0.1])
    def loss(zs):
        return anp.sum(zs[1:] ** 2)

    fs, bp = (ar.gradients(loss, f, z0, theta, ts, 8, m) for m in ("forward_sensitivity", "backprop"))
    assert isinstance(fs.theta, list) and isinstance(fs.theta[1], tuple) and np.shape(fs.theta[1][1]) == ()
    assert relative(fs.theta, bp.theta) < ROUND_OFF and relative(fs.z0, bp.z0) < ROUND_OFF
