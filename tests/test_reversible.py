"""Reversible Heun (solver="reversible_heun"): its discrete adjoint equals backprop through the same
solver to round-off, its step inverts to round-off, it is of order 2, its adjoint's memory does not
grow with the number of steps, and it fails where the derivation says it does (decaying modes).

Backprop and the adjoint perform the same products in a different order, the adjoint on states rebuilt
by the inverse step (equal to the forward ones up to round-off amplified by the backward flow), so
1e-10 relative leaves a factor ≥ 1e3 over the 1e-16 to 1e-14 observed on these problems.
"""
import tracemalloc

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.linalg
from autograd import grad

import adjoint_ref as ar
from adjoint_ref import reversible
from adjoint_ref.methods import REVERSIBLE_METHODS
from adjoint_ref.problems.models import contracting_problem, default_problem
from adjoint_ref.problems.zoo import lorenz_problem
from adjoint_ref._impl.tree import ravel_tree
from reference import relative

SOLVER = "reversible_heun"
ROUND_OFF = 1e-10


def flat(g):
    return np.concatenate([np.ravel(g.z0), ravel_tree(g.theta), g.ts])


def gradient(p, n_steps, method):
    return ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, method, solver=SOLVER)


PROBLEMS = {  # (problem, steps per interval)
    "mlp": (default_problem(), 20),  # observed 3.4e-16
    "mlp-decreasing-times": (default_problem(batch=2, n_times=3)._replace(ts=np.linspace(1.0, 0.0, 3)), 10),
    "lorenz-0.4": (lorenz_problem(), 100),  # observed 1.1e-14
    # the zoo's contracting flow with its fast rate 50 lowered to 5: at 50 the solver itself is unstable
    # (test_a_decaying_mode_makes_the_parasitic_mode_grow); observed 1.9e-15
    "contracting-5": (contracting_problem(fast=5.0), 100),
}


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_adjoint_equals_backprop_through_the_same_solver(name):
    p, n_steps = PROBLEMS[name]
    adjoint, backprop = gradient(p, n_steps, "adjoint"), gradient(p, n_steps, "backprop")
    assert adjoint.loss == backprop.loss
    assert relative(flat(adjoint), flat(backprop)) < ROUND_OFF


def test_finite_differences_agree_to_their_precision():
    p, n_steps = default_problem(hidden=4, batch=2, n_times=3), 10
    # observed 8e-10 on the default problem: central differences at δ = ε^(1/3) err by ~ε^(2/3) ≈ 4e-11 per entry, relative
    assert relative(flat(gradient(p, n_steps, "finite_differences")), flat(gradient(p, n_steps, "backprop"))) < 1e-8


@pytest.mark.parametrize("gradient_method", ["adjoint", "backprop"])
def test_odeint_is_differentiable_like_gradients(gradient_method):
    p, n_steps = default_problem(batch=2, n_times=3), 8

    def loss_of_theta(theta):
        return p.loss(ar.odeint(p.f, p.z0, theta, p.ts, n_steps, gradient=gradient_method, solver=SOLVER))

    expected = gradient(p, n_steps, "backprop")
    assert relative(ravel_tree(grad(loss_of_theta)(p.theta)), ravel_tree(expected.theta)) < ROUND_OFF


def pendulum(z, theta, t):
    return anp.stack([z[1], -theta * anp.sin(z[0])])  # undamped: eigenvalues on the imaginary axis


def test_forward_then_inverse_returns_z0_over_ten_thousand_steps():
    theta, h, n = 2.0, 1e-3, 10000
    z0 = np.array([1.0, 0.3])
    state = (z0, z0, pendulum(z0, theta, 0.0))
    for k in range(n):
        state = reversible.step(pendulum, *state, theta, (k + 1) * h, h)
    assert np.linalg.norm(state[0] - z0) > 0.1  # it went somewhere
    for k in range(n - 1, -1, -1):
        state = reversible.inverse_step(pendulum, *state, theta, k * h, h)
    # round-off: observed 2.3e-16 for z, 4.1e-15 for ẑ (‖z0‖ ≈ 1, 10⁴ steps of ε-sized errors each way)
    assert np.linalg.norm(state[0] - z0) < 5e-14 and np.linalg.norm(state[1] - z0) < 5e-14


def test_the_inverse_is_the_step_with_minus_h():
    # (RH2) is (RH1) run from t' back to t with step −h: the method is symmetric in time
    z, z_hat, theta, t, h = np.array([0.3, -0.8]), np.array([0.31, -0.79]), 1.7, 0.2, 0.05
    after = reversible.step(pendulum, z, z_hat, pendulum(z_hat, theta, t), theta, t + h, h)
    back = reversible.inverse_step(pendulum, *after, theta, t, h)
    assert all(np.array_equal(a, b) for a, b in zip(back, reversible.step(pendulum, *after, theta, t, -h)))
    assert np.allclose(back[0], z, rtol=0, atol=1e-15) and np.allclose(back[1], z_hat, rtol=0, atol=1e-15)


def test_the_multipliers_of_the_derivation_give_the_package_gradient():
    # (RH4)–(RH5) of derivation/README.md written out with full Jacobians, on the stored forward states,
    # against the package's adjoint (which rebuilds the states by (RH2) and uses one VJP per step)
    from autograd import jacobian

    def f(z, theta, t):
        return anp.tanh(anp.dot(theta[:4].reshape(2, 2), z) + theta[4:] * t)

    theta, z0, (t0, t1), n = np.array([0.3, -1.1, 0.8, 0.2, 0.5, -0.4]), np.array([0.7, -0.2]), (0.1, 0.9), 6
    h = (t1 - t0) / n
    times = t0 + h * np.arange(n + 1)
    times[-1] = t1
    states = [(z0, z0, f(z0, theta, t0))]
    for k in range(n):
        states.append(reversible.step(f, *states[-1], theta, times[k + 1], h))
    z_hat = [state[1] for state in states]
    J = [jacobian(f, 0)(z_hat[k], theta, times[k]) for k in range(n + 1)]
    f_theta = [jacobian(f, 1)(z_hat[k], theta, times[k]) for k in range(n + 1)]
    lam, alpha = {n: states[n][0], n + 1: np.zeros(2)}, {n + 1: np.zeros(2)}  # L = ½‖z_n‖²: ∂L/∂z_n = z_n
    beta = {}
    for k in range(n, 0, -1):
        beta[k] = h / 2 * (lam[k] + lam.get(k + 1, 0)) + h * alpha[k + 1]
        alpha[k] = beta[k] @ J[k] - alpha[k + 1]
        lam[k - 1] = lam[k] + 2 * alpha[k]
    beta[0] = h / 2 * lam[1] + h * alpha[1]
    dL_dtheta = sum(beta[k] @ f_theta[k] for k in range(n + 1))
    dL_dz0 = lam[1] + alpha[1] + beta[0] @ J[0]
    g = ar.gradients(lambda zs: 0.5 * anp.sum(zs[-1] ** 2), f, z0, theta, [t0, t1], n, "adjoint", solver=SOLVER)
    assert relative(g.theta, dL_dtheta) < 1e-13 and relative(g.z0, dL_dz0) < 1e-13  # observed ≤ 2e-16


ROTATION = np.array([[0.0, 1.0], [-4.0, 0.0]])  # eigenvalues ±2i: inside the stable segment for h < 1/2


def linear(z, A, t):
    return anp.dot(A, z)


def closed_form_errors(n_steps, t1=1.5):
    # L = w·z(t1) for dz/dt = A z: z(t1) = e^{A t1} z0, dL/dz0 = e^{Aᵀ t1} w, dL/dA by Van Loan's block exponential
    w, z0 = np.array([1.0, -0.5]), np.array([0.4, 1.0])
    g = ar.gradients(lambda zs: anp.dot(w, zs[-1]), linear, z0, ROTATION, [0.0, t1], n_steps, "adjoint", solver=SOLVER)
    block = scipy.linalg.expm(np.block([[ROTATION.T, np.outer(w, z0)], [np.zeros((2, 2)), ROTATION.T]]) * t1)
    dL_dA = block[:2, 2:]  # ∫ e^{Aᵀ(t1−s)} w z0ᵀ e^{Aᵀ s} ds: the gradient of w·e^{A t1} z0 with respect to A
    return (abs(g.loss - w @ scipy.linalg.expm(ROTATION * t1) @ z0),
            relative(g.z0, scipy.linalg.expm(ROTATION.T * t1) @ w), relative(g.theta, dL_dA))


def test_order_two_against_the_matrix_exponential():
    coarse, fine = closed_form_errors(50), closed_form_errors(100)
    orders = np.log2(np.array(coarse) / np.array(fine))
    # halving h divides each error by about 4: observed orders 2.002, 2.001, 2.003 (L, dL/dz0, dL/dA)
    assert np.all(np.abs(orders - 2) < 0.2), orders


def test_the_step_matrix_has_determinant_minus_one_and_is_stable_only_on_the_imaginary_segment():
    # On dz/dt = c z (scalar, complex c) a step maps (z, ẑ) linearly; its matrix, read off the step itself,
    # has determinant −1, so its eigenvalues μ satisfy μ1 μ2 = −1: both of modulus 1 only for hc in [−i, i].
    def matrix(x):
        columns = []
        for z, z_hat in ((1.0 + 0j, 0j), (0j, 1.0 + 0j)):
            z_new, z_hat_new, _ = reversible.step(lambda z, c, t: c * z, z, z_hat, x * z_hat, x, 1.0, 1.0)
            columns.append([z_new, z_hat_new])
        return np.array(columns).T

    for x in (-0.1, 0.3, 0.5j, -0.02 + 0.5j, 1.5j):
        assert np.linalg.det(matrix(x)) == pytest.approx(-1.0, abs=1e-14)
    growth = {x: max(abs(np.linalg.eigvals(matrix(x)))) for x in (0.5j, 0.99j, 1.5j, -0.1, -0.02 + 0.5j)}
    assert growth[0.5j] == pytest.approx(1.0, abs=1e-14) and growth[0.99j] == pytest.approx(1.0, abs=1e-12)
    assert growth[1.5j] > 2.5 and growth[-0.1] > 1.1 and growth[-0.02 + 0.5j] > 1.01


def test_a_decaying_mode_makes_the_parasitic_mode_grow():
    # The zoo's contracting flow (eigenvalues −1 and −50 on [0, 1]): the parasitic mode grows like e^{50 t},
    # whatever the step, and the solution is wrong by many orders of magnitude (L = −8.3e17 at 100 steps and
    # −6.7e14 at 1000, against −0.124, the derivation's numbers); RK4 at 100 steps is right to 1e-8.
    p = contracting_problem()
    assert p.loss(ar.odeint(p.f, p.z0, p.theta, p.ts, 100)) == pytest.approx(-0.124, abs=5e-4)
    for n_steps, loss in ((100, -8.3e17), (1000, -6.7e14)):
        assert p.loss(ar.odeint(p.f, p.z0, p.theta, p.ts, n_steps, solver=SOLVER)) == pytest.approx(loss, rel=0.01)


def test_lorenz_over_two_time_units_blows_up():
    # The chaotic flow contracts strongly transverse to its attractor (Lyapunov exponent ≈ −14.6), so the
    # parasitic mode grows like e^{14.6 t}: over [0, 2] even 10⁴ steps overflow, near t = 1.25
    p = lorenz_problem()
    with pytest.raises(FloatingPointError, match=r"non-finite at t=1\.25\d* during the forward pass"):
        ar.odeint(p.f, p.z0, p.theta, np.array([0.0, 2.0]), 10000, solver=SOLVER)


def adjoint_peak(n_steps):
    # the smaller of two runs: a one-time allocation elsewhere in the process (a cache filling up, say)
    # can land in either, but not in both
    theta, z0 = ROTATION * 0.1, np.array([0.4, 1.0])
    zs, pullback = REVERSIBLE_METHODS["adjoint"](linear, z0, theta, np.array([0.0, 1.0]), n_steps)
    peaks = []
    for _ in range(2):
        tracemalloc.start()
        try:
            pullback(np.ones_like(zs))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    return min(peaks)


def test_adjoint_memory_does_not_grow_with_the_number_of_steps():
    # Extra peak bytes of the backward pass per extra step, from 50 to 500 steps: observed 0 to 64 bytes in
    # all (12288 → 12320), with a few KiB of noise either way from allocations elsewhere in the process;
    # keeping each rebuilt state (z, ẑ, F) would cost about 400 bytes per step. 500, not 10⁴: tracemalloc
    # slows each make_vjp down; `adjoint-ref bench` measures 100 → 10⁴ steps (row reversible_heun).
    small, large = adjoint_peak(50), adjoint_peak(500)
    assert (large - small) / 450 < 100, (small, large)


@pytest.mark.parametrize("options, message", [
    ({"checkpoints": 4}, "checkpoints is not supported with solver='reversible_heun'"),
    ({"running_loss": lambda z, theta, t: anp.sum(z ** 2)}, "running_loss is not supported"),
    ({"rtol": 1e-6}, "rtol is not supported with solver='reversible_heun', which takes n_steps"),
    ({"stats": {}}, "stats is not supported"),
    ({"method": "discrete_adjoint"}, r"method \(with solver='reversible_heun'\) must be one of 'adjoint', 'backprop'"),
    ({"method": "reversible_heun"}, "names an ODE solver"),
])
def test_what_is_not_supported_is_refused_by_name(options, message):
    p = default_problem(batch=2, n_times=2)
    with pytest.raises(ValueError, match=message):
        ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, **dict({"solver": SOLVER}, **options))
