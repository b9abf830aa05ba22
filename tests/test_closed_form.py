"""Problems whose every gradient is known in closed form: the adjoint against exact maths.

Each tolerance is RK4's O(h⁴) global error (tests/reference.py), and backprop is also checked
against the derivative of RK4's exact discrete solution, which it must match to round-off.
"""
import autograd.numpy as anp
import numpy as np
import pytest

import adjoint_ref as ar
from reference import expm, expm_derivative, relative, rk4_error_bound

METHODS = ("adjoint", "backprop", "finite_differences", "forward_sensitivity")


def exponential_growth(z, theta, t):
    return theta * z


@pytest.mark.parametrize("method", METHODS)
def test_exponential_growth_all_gradients(method):
    # dz/dt = θz, L = z(t1)²: z1 = z0 e^{θ(t1−t0)}.
    z0, theta, t0, t1, n = 0.8, 0.7, 0.2, 1.7, 20
    z1 = z0 * np.exp(theta * (t1 - t0))
    exact = {"loss": z1 ** 2, "z0": 2 * z1 * z1 / z0, "theta": 2 * z1 * z1 * (t1 - t0),
             "ts": np.array([-2 * z1 * theta * z1, 2 * z1 * theta * z1])}
    g = ar.gradients(lambda zs: zs[-1] ** 2, exponential_growth, z0, theta, [t0, t1], n, method)
    tol = rk4_error_bound(theta, t1 - t0, (t1 - t0) / n)
    for name, value in exact.items():
        assert relative(getattr(g, name), value) < tol, name


def test_backprop_is_the_exact_derivative_of_the_discrete_solution():
    # RK4 on dz/dt = θz multiplies z by R(x) = 1 + x + x²/2 + x³/6 + x⁴/24, x = θh, each step.
    z0, theta, t0, t1, n = 0.8, 0.7, 0.2, 1.7, 5
    h = (t1 - t0) / n
    x = theta * h
    R = 1 + x + x ** 2 / 2 + x ** 3 / 6 + x ** 4 / 24
    dR_dx = 1 + x + x ** 2 / 2 + x ** 3 / 6
    z1 = z0 * R ** n
    dz1_dtheta = z0 * n * R ** (n - 1) * dR_dx * h
    g = ar.gradients(lambda zs: zs[-1] ** 2, exponential_growth, z0, theta, [t0, t1], n, "backprop")
    assert g.loss == pytest.approx(z1 ** 2, rel=1e-14)
    assert g.theta == pytest.approx(2 * z1 * dz1_dtheta, rel=1e-13)


def time_dependent(z, theta, t):
    return theta * t * z


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reverse", [False, True], ids=["increasing", "decreasing"])
def test_time_dependent_with_several_observations(method, reverse):
    # dz/dt = θ t z: z(t) = z0 exp(θ (t² − t0²)/2). L = Σ_i w_i z(t_i) over all observation times.
    theta, z0 = 0.8, 1.3
    ts = np.array([0.3, 0.7, 1.1, 1.5])
    if reverse:
        ts = ts[::-1].copy()
    w = np.array([0.5, -1.0, 2.0, 1.5])
    zs = z0 * np.exp(theta * (ts ** 2 - ts[0] ** 2) / 2)
    exact_ts = w * theta * ts * zs
    exact_ts[0] = -theta * ts[0] * np.sum(w[1:] * zs[1:])  # z(t0) = z0 does not move with t0
    exact = {"loss": np.sum(w * zs), "z0": np.sum(w * zs) / z0,
             "theta": np.sum(w * zs * (ts ** 2 - ts[0] ** 2) / 2), "ts": exact_ts}
    n = 30
    g = ar.gradients(lambda zs: anp.sum(w * zs), time_dependent, z0, theta, ts, n, method)
    span, rate = 1.2, theta * 1.5
    tol = rk4_error_bound(rate, span, 0.4 / n)
    for name, value in exact.items():
        assert relative(getattr(g, name), value) < tol, name


@pytest.mark.parametrize("method", METHODS)
def test_linear_system_against_the_matrix_exponential(method):
    # dz/dt = A z, L = c · z(t1): z1 = e^{AΔ} z0, dL/dz0 = e^{AᵀΔ} c, dL/dA_jk from Van Loan's block.
    rng = np.random.default_rng(3)
    D, t0, t1, n = 3, 0.0, 1.2, 40
    A = rng.normal(size=(D, D)) * 0.6
    z0, c = rng.normal(size=D), rng.normal(size=D)
    span = t1 - t0
    z1 = expm(A * span) @ z0
    dL_dA = np.array([[c @ expm_derivative(A, np.outer(np.eye(D)[j], np.eye(D)[k]), span) @ z0
                       for k in range(D)] for j in range(D)])
    exact = {"loss": c @ z1, "z0": expm(A.T * span) @ c, "theta": dL_dA,
             "ts": np.array([-(expm(A.T * span) @ c) @ A @ z0, c @ A @ z1])}
    g = ar.gradients(lambda zs: anp.dot(c, zs[-1]), lambda z, A, t: anp.dot(A, z), z0, A, [t0, t1], n, method)
    tol = rk4_error_bound(np.linalg.norm(A, 2), span, span / n)
    for name, value in exact.items():
        assert relative(getattr(g, name), value) < tol, name
    assert relative(ar.odeint(lambda z, A, t: anp.dot(A, z), z0, A, [t0, t1], n)[-1], z1) < tol
