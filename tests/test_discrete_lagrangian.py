"""The discrete adjoint from the Lagrangian of the RK4 equations (derivation/README.md, (D1)–(D4)).

The recursion for the stage multipliers μ_{k,i} and the step multipliers λ_k as the page writes it
(exercise 9's reference answer, with autograd's make_vjp of f for each product) is compared with the
package's transposed step (`discrete_adjoint.step_transpose`) and with autograd's VJP of a whole RK4
step: all three are
the same arithmetic in different orders, so they agree to round-off. Then the multipliers λ_k are
compared with the continuous λ(t_k): the gap must fall like h⁴.
"""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, make_vjp

from adjoint_ref.adjoint import adjoint_gradients
from adjoint_ref.discrete_adjoint import step_transpose
from adjoint_ref.exercises.solutions.ex9_step_multipliers import step_multipliers
from adjoint_ref._impl.fast_vjp import vjp_of
from adjoint_ref.problems.models import default_problem, shear_problem
from adjoint_ref.rk4 import integrate, rk4_step, step_states
from reference import relative

ROUND_OFF = 1e-12


def f(z, theta, t):
    return anp.tanh(anp.dot(z, theta[:-1]) + t * theta[-1])


def stage_multipliers(z, theta, t, h, lam_next):
    """(D3)–(D4) for one step, λ_k and the step's Σ_i μ_i ∂f/∂θ(Y_i) from λ_{k+1}: the recursion as the
    page writes it, which is exercise 9's reference answer."""
    return step_multipliers(f, z, theta, t, h, lam_next)


@pytest.mark.parametrize("shape, h", [((3,), 0.3), ((4, 3), 0.2), ((3,), -0.25)], ids=["one", "batch", "backwards"])
def test_stage_multipliers_are_the_transposed_step(shape, h):
    rng = np.random.default_rng(len(shape))
    z, lam_next = rng.normal(size=shape), rng.normal(size=shape)
    theta, t = rng.normal(size=(4, 3)) * 0.7, 0.4
    lam_k, theta_part = stage_multipliers(z, theta, t, h, lam_next)
    package = step_transpose(vjp_of(f), z, theta, t, h, lam_next)
    assert relative(package[0], lam_k) < ROUND_OFF
    assert relative(package[1], np.ravel(theta_part)) < ROUND_OFF
    autograd_z, autograd_theta = make_vjp(rk4_step, argnum=(1, 2))(f, z, theta, t, h)[0](lam_next)
    assert relative(autograd_z, lam_k) < ROUND_OFF
    assert relative(autograd_theta, theta_part) < ROUND_OFF


def discrete_multipliers(p, n_steps):
    """λ_0 … λ_n of (D3)–(D4) on the one interval of problem p, by the recursion above."""
    (t0, t1), h = p.ts, (p.ts[1] - p.ts[0]) / n_steps
    states = step_states(p.f, p.z0, p.theta, t0, t1, n_steps)
    lams = [grad(p.loss)(np.array([states[0], states[-1]]))[-1]]
    for k in range(n_steps - 1, -1, -1):
        lams.append(step_transpose(vjp_of(p.f), states[k], p.theta, t0 + k * h, h, lams[-1])[0])
    return np.array(lams[::-1])


def continuous_multipliers(p, n_steps):
    """λ(t_k) of eq. (11) on the same grid, from the continuous adjoint's recorded backward solve."""
    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
    lam = adjoint_gradients(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), trace=True).lam
    return lam[:-1][::-1]  # drop the jump at t0 (zero here)


def relative_gap(p, n_steps):
    """max_k ‖λ_k − λ(t_k)‖ / max_k ‖λ(t_k)‖ on n_steps steps."""
    discrete, continuous = discrete_multipliers(p, n_steps), continuous_multipliers(p, n_steps)
    assert discrete.shape == continuous.shape == (n_steps + 1, np.size(p.z0))
    return np.max(np.linalg.norm(discrete - continuous, axis=1)) / np.max(np.linalg.norm(continuous, axis=1))


def test_discrete_multipliers_converge_to_lambda_at_order_4():
    # A time-dependent MLP on one interval: the gap falls like h⁴ (slopes 4.3 and 4.2 measured here).
    p = default_problem(batch=0, n_times=2, t1=2.0)
    gaps = [relative_gap(p, n) for n in (8, 16, 32)]
    slopes = np.log2(np.array(gaps[:-1]) / np.array(gaps[1:]))
    assert np.all((slopes > 3.5) & (slopes < 4.5)), (gaps, slopes)
    assert gaps[0] > 1e-6  # at 8 steps the two are visibly different methods


def test_for_linear_autonomous_dynamics_the_two_adjoints_coincide():
    # Both multiply λ by the same polynomial R(hA) per step (the page, below (D4)).
    assert relative_gap(shear_problem(), 4) < ROUND_OFF


def test_the_pendulums_faster_gap_is_pre_asymptotic():
    # derivation/README.md: on the autonomous damped pendulum observed once the gap between the discrete
    # and the continuous dL/dz0 first falls faster than h⁴ (observed order 4.71 on [0, 8] from 8 to 16 steps,
    # 4.55 from 64 to 128), and at order 4 on a shorter span ([0, 2]: 4.01 from 64 to 128 steps).
    import adjoint_ref as ar
    from adjoint_ref.problems.models import pendulum_problem

    def observed_order(t1, n_steps):
        p = pendulum_problem(t1=t1, n_times=2)
        gaps = [relative(*(ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n, m).z0
                           for m in ("discrete_adjoint", "adjoint"))) for n in (n_steps, 2 * n_steps)]
        return np.log2(gaps[0] / gaps[1])

    coarse, fine = observed_order(8.0, 8), observed_order(8.0, 64)
    assert 4.5 < coarse < 4.9 and 4.3 < fine < 4.7 and fine < coarse
    assert 3.9 < observed_order(2.0, 64) < 4.1
