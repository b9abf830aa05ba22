"""The discrete adjoint is the exact gradient of the RK4 solution: it equals backprop to round-off,
matches RK4's closed-form discrete derivative, and differs from the continuous adjoint by O(h⁴).

Backprop and the discrete adjoint perform the same products in a different order, so they agree
to a few ulps per operation: relative 1e-12 leaves a factor ~100 over the ~1e-15 we observe.
"""
import autograd.numpy as anp
import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref.problems.models import default_problem
from reference import relative

ROUND_OFF = 1e-12


def both(problem, n_steps, methods=("discrete_adjoint", "backprop")):
    p = problem
    return [ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, m) for m in methods]


@pytest.mark.parametrize("batch, reverse", [(4, False), (0, False), (2, True)],
                         ids=["default", "vector", "decreasing-times"])
def test_equals_backprop_to_round_off(batch, reverse):
    p = default_problem(batch=batch)
    if reverse:
        p = p._replace(ts=p.ts[::-1].copy())
    discrete, backprop = both(p, 20)
    assert discrete.loss == backprop.loss
    for q in ("z0", "theta", "ts"):
        assert relative(getattr(discrete, q), getattr(backprop, q)) < ROUND_OFF, q


def test_list_of_arrays_parameters_and_a_time_free_f():
    rng = np.random.default_rng(5)
    theta = [rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)]

    def f(z, theta, t):
        return anp.tanh(anp.dot(z, theta[0]) + theta[1])

    p = ar.Problem(f, rng.normal(size=3), theta, np.array([0.0, 0.3, 1.0]), lambda zs: anp.sum(zs ** 3))
    discrete, backprop = both(p, 7)
    assert isinstance(discrete.theta, list)
    for q in ("z0", "theta", "ts"):
        assert relative(getattr(discrete, q), getattr(backprop, q)) < ROUND_OFF, q


def test_matches_the_closed_form_derivative_of_rk4():
    # RK4 on dz/dt = θz multiplies z by R(x) = 1 + x + x²/2 + x³/6 + x⁴/24, x = θh, each step, so
    # z1 = z0 R(θh)^n with h = (t1 − t0)/n; L = z1² differentiates by hand, including in t0 and t1.
    z0, theta, t0, t1, n = 0.8, 0.7, 0.2, 1.7, 5
    h = (t1 - t0) / n
    x = theta * h
    R, dR = 1 + x + x ** 2 / 2 + x ** 3 / 6 + x ** 4 / 24, 1 + x + x ** 2 / 2 + x ** 3 / 6
    z1 = z0 * R ** n
    dz1_dx = z0 * n * R ** (n - 1) * dR
    exact = {"z0": 2 * z1 * R ** n, "theta": 2 * z1 * dz1_dx * h,
             "ts": 2 * z1 * dz1_dx * theta / n * np.array([-1.0, 1.0])}
    g = ar.gradients(lambda zs: zs[-1] ** 2, lambda z, th, t: th * z, z0, theta, [t0, t1], n, "discrete_adjoint")
    for q, value in exact.items():
        assert relative(getattr(g, q), value) < ROUND_OFF, q


def test_continuous_adjoint_differs_by_h4():
    p = default_problem(hidden=8, batch=2, t1=2.0, seed=1)
    steps = [4, 8, 16]
    gaps = [relative(*(g.theta for g in both(p, n, ("adjoint", "discrete_adjoint")))) for n in steps]
    slopes = np.diff(np.log(gaps)) / np.diff(np.log(steps))
    assert np.all((slopes < -3.5) & (slopes > -4.5)), slopes
