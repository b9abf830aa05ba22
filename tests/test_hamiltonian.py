"""The Hamiltonian H = λ·f (+ g) along the adjoint's path (derivation/README.md, (H)–(H3)).

H is evaluated on the RK4 grid from the adjoint's λ (`lagrangian.eq11_adjoint_multiplier`) and f, and
compared with time gradients from finite differences of the forward pass, which know nothing of H.
Both sides carry RK4's global error, relative to the size of H: the tolerance is
reference.rk4_error_bound with the rate 1 of both problems (the pendulum's ω² = 1; the MLP's weights
are scaled to make ∂f/∂z of order 1); the errors observed sit 2–20 times below it.
"""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import adjoint_ref as ar
from adjoint_ref import lagrangian as lg
from adjoint_ref.adjoint import adjoint_gradients
from adjoint_ref.problems.models import default_problem, pendulum_problem
from adjoint_ref.rk4 import integrate
from reference import relative, rk4_error_bound

N_STEPS = 8
RATE = 1.0


def tolerance(p, n_steps=N_STEPS):
    """RK4's global error bound on problem p with n_steps per observation interval."""
    return rk4_error_bound(RATE, p.ts[-1] - p.ts[0], np.max(np.diff(p.ts)) / n_steps)


def hamiltonian_on_grid(p, n_steps=N_STEPS):
    """(grid times, H on the grid, λ∂f/∂t on the grid) for problem p, from the adjoint λ."""
    path = lg.forward_path(p.f, p.z0, p.theta, p.ts, n_steps)
    zs = lg.at_observation_times(path.z).reshape((len(p.ts),) + np.shape(p.z0))
    lam = lg.eq11_adjoint_multiplier(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), path.t).lam
    on = lg.along_path(lg.jacobians_along(p.f, p.theta, path, np.shape(p.z0)), lam)
    return path.t, lg.hamiltonian(lam, on.f), on.lam_ft


def fd_time_gradients(p, n_steps=N_STEPS):
    """dL/dts by central differences of the forward pass (no adjoint, no H)."""
    return ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, "finite_differences").ts


@pytest.mark.parametrize("problem", [default_problem(hidden=6, batch=2), pendulum_problem()], ids=["mlp", "pendulum"])
def test_the_end_times_read_off_the_hamiltonian(problem):
    _, H, _ = hamiltonian_on_grid(problem)
    dL_dts = fd_time_gradients(problem)
    tol = tolerance(problem)
    assert relative(H[-1, -1], dL_dts[-1]) < tol  # dL/dt_N = H(t_N⁻)
    assert relative(-H[0, 0], dL_dts[0]) < tol  # dL/dt0 = −H(t0⁺)


def test_jumps_by_dL_dti_at_observation_times():
    p = default_problem(hidden=6, batch=2)
    _, H, _ = hamiltonian_on_grid(p)
    jumps = H[:-1, -1] - H[1:, 0]  # H(t_i⁻) − H(t_i⁺), i = 1 … N−1
    assert relative(jumps, fd_time_gradients(p)[1:-1]) < tolerance(p)


def test_constant_for_autonomous_dynamics():
    p = pendulum_problem()
    _, H, _ = hamiltonian_on_grid(p)
    spread = np.max(np.ptp(H, axis=1)) / np.max(np.abs(H))
    assert spread < tolerance(p)
    _, H_t, _ = hamiltonian_on_grid(default_problem(hidden=6, batch=2))  # f depends on t: H moves
    assert np.max(np.ptp(H_t, axis=1)) / np.max(np.abs(H_t)) > 1e-2


def test_changes_at_the_rate_lambda_df_dt():
    # (H2) integrated over each interval: H(t_i⁻) − H(t_{i−1}⁺) = ∫ λ ∂f/∂t dt (Simpson), relative to H.
    p = default_problem(hidden=6, batch=2)
    t, H, lam_ft = hamiltonian_on_grid(p)
    change = H[:, -1] - H[:, 0]
    assert np.max(np.abs(change - lg.simpson(lam_ft, t))) / np.max(np.abs(H)) < tolerance(p)
    assert np.max(np.abs(change)) / np.max(np.abs(H)) > 100 * tolerance(p)  # and H does change


def test_shifting_both_times_changes_nothing():
    p = pendulum_problem(n_times=2)
    dL_dts = fd_time_gradients(p)
    adjoint = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, N_STEPS).ts
    assert abs(dL_dts.sum()) < 1e-6 * abs(dL_dts[0])  # FD's own precision
    assert abs(adjoint.sum()) < 1e-12 * abs(adjoint[0])  # H is constant along the adjoint's own solve too


def test_with_a_running_cost():
    # H = λ·f + g is constant for autonomous f and g, and dL/dt0 = −H(t0⁺), dL/dt_N = H(t_N⁻).
    p, n_steps = pendulum_problem(n_times=2), 32

    def g(z, theta, t):
        return 0.5 * anp.sum(z ** 2)

    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
    back = adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), running_loss=g, trace=True)
    adjoint_ts = back.gradients[2]
    H = np.array([np.vdot(lam, p.f(z, p.theta, t)) + g(z, p.theta, t)
                  for t, z, lam in zip(back.t[:-1], back.z[:-1], back.lam[:-1])])
    tol = tolerance(p, n_steps)
    assert np.ptp(H) / np.max(np.abs(H)) < tol
    backprop = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, "backprop", running_loss=g).ts
    assert relative(backprop, np.array([-H[-1], H[0]])) < tol  # record runs backwards: H[0] at t_N
    assert relative(adjoint_ts, backprop) < tol
