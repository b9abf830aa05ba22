"""Two statements of derivation/README.md's eq. (11) section, checked with numbers (its integral form
(11') is checked in test_lagrangian.py):

- λ(t)·δz(t) = δL at every t, with δz carried forwards by forward sensitivities (dz/dz0 · v);
- with an observation at t0, dL/dz0 = λ(t0⁻) = λ(t0⁺) + ∂L/∂z(t0), and dL/dt0 = −λ(t0⁺)·f.
Each side carries RK4's O(h⁴) error: tolerances are reference.rk4_error_bound.
"""
import autograd.numpy as anp
import numpy as np
from autograd import grad

import adjoint_ref as ar
from adjoint_ref.adjoint import adjoint_gradients
from adjoint_ref.problems.models import default_problem, pendulum_problem
from adjoint_ref.rk4 import integrate
from adjoint_ref.sensitivity import forward_sensitivities
from reference import relative, rk4_error_bound

N_STEPS = 16


def test_lambda_times_a_perturbation_is_constant():
    p = pendulum_problem(n_times=2)
    n_steps, v = 64, np.array([0.6, 0.8])
    dz = forward_sensitivities(p.f, p.z0, p.theta, p.ts, n_steps, trace=True).S[:, :, :2] @ v  # δz(t), forwards
    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
    back = adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), trace=True)
    lam = back.lam[:-1][::-1]  # same grid, forwards in time (the last row: λ after the jump at t0)
    products = np.sum(lam * dz, axis=1)
    dL = np.vdot(ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, "backprop").z0, v)
    tol = rk4_error_bound(1.0, 8.0, 8.0 / n_steps)
    assert np.max(np.abs(products - dL)) / abs(dL) < tol
    assert np.max(np.abs(lam[:, 0] * dz[:, 0] - dL)) / abs(dL) > 0.1  # each product alone is not constant


def test_dL_dz0_with_an_observation_at_t0():
    p = default_problem(hidden=6, batch=0)
    target = np.array([0.3, -0.2])

    def loss(zs):  # reads z(t0) as well as the later states
        return p.loss(zs) + anp.sum((zs[0] - target) ** 2)

    zs = integrate(p.f, p.z0, p.theta, p.ts, N_STEPS)
    back = adjoint_gradients(p.f, zs, p.theta, p.ts, N_STEPS, grad(loss)(zs), trace=True)
    dL_dz0, _, dL_dts = back.gradients
    lam_before, lam_after = back.lam[back.jumps[-1] - 1], back.lam[back.jumps[-1]]  # λ(t0⁺), λ(t0⁻)
    assert np.array_equal(dL_dz0, lam_after)
    assert relative(lam_after, lam_before + 2 * (p.z0 - target)) < 1e-14
    backprop = ar.gradients(loss, p.f, p.z0, p.theta, p.ts, N_STEPS, "backprop")
    tol = rk4_error_bound(1.0, 1.0, 0.25 / N_STEPS)
    assert relative(dL_dz0, backprop.z0) < tol
    assert relative(dL_dts[0], -np.vdot(lam_before, p.f(p.z0, p.theta, p.ts[0]))) < tol  # a_t carries −H: O(h⁴)
    assert relative(dL_dts[0], backprop.ts[0]) < tol
