"""Euler first (derivation/README.md): the discrete adjoint of forward Euler is backprop through a ResNet,
and the discrete multipliers of any one-step method keep λ_k·δz_k exactly constant, the continuous
adjoint only to O(h⁴).

References are independent of the code under test: backprop is autograd's `grad` through a plain
Python loop of residual blocks; δL comes from two perturbed forward solves; the continuous λ(t_k) from
the adjoint solver (eq. 11) on the same grid. Exact identities are held to round-off (1e-14 relative,
about 10x the 5e-16–1.3e-15 observed); the continuous adjoint's drift must fall at order 4 (observed
4.6, 4.4, 4.2 between 16, 32, 64 steps on the MLP below).
"""
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from adjoint_ref import discrete_adjoint as da
from adjoint_ref import lagrangian as lg
from adjoint_ref._impl.fast_vjp import vjp_of
from adjoint_ref._impl.tree import ravel_tree
from adjoint_ref.problems.models import default_problem
from adjoint_ref.rk4 import rk4_step
from reference import relative

ROUND_OFF = 1e-14
V = np.array([0.6, 0.8])  # the direction δz_0 of the perturbation


def problem():
    """The t-dependent MLP of discrete_vs_continuous.png: one 2-D state, observed once at t1 = 4."""
    return default_problem(batch=0, n_times=2, t1=4.0)


def resnet_loss(p, n_steps):
    """L(z0, θ) through n_steps residual blocks z_{k+1} = z_k + h f(z_k, θ, t_k), written out as a loop."""
    (t0, t1), h = p.ts, (p.ts[1] - p.ts[0]) / n_steps

    def loss(z0, theta):
        z = z0
        for k in range(n_steps):
            z = z + h * p.f(z, theta, t0 + k * h)
        return p.loss(anp.stack([z0, z]))

    return loss


def test_the_euler_adjoint_is_backprop_through_a_resnet():
    p, n_steps = problem(), 12
    (t0, t1), h = p.ts, (p.ts[1] - p.ts[0]) / n_steps
    states = da.one_step_states(da.euler_step, p.f, p.z0, p.theta, t0, t1, n_steps)
    lam, dL_dtheta, vjp = grad(p.loss)(np.array([states[0], states[-1]]))[-1], 0.0, vjp_of(p.f)
    for k in range(n_steps - 1, -1, -1):  # (E2), from the last block back
        lam, share = da.euler_step_transpose(vjp, states[k], p.theta, t0 + k * h, h, lam)
        dL_dtheta = dL_dtheta + share
    backprop = resnet_loss(p, n_steps)
    assert relative(lam, grad(backprop, 0)(p.z0, p.theta)) < ROUND_OFF
    assert relative(dL_dtheta, ravel_tree(grad(backprop, 1)(p.z0, p.theta))) < ROUND_OFF


def discrete_pairings(p, n_steps, step=rk4_step):
    """(step states, tangents δz_k, λ_k·δz_k with the discrete multipliers of the one-step method `step`)."""
    (t0, t1) = p.ts
    states = da.one_step_states(step, p.f, p.z0, p.theta, t0, t1, n_steps)
    lam_n = grad(p.loss)(np.array([states[0], states[-1]]))[-1]
    tangents = da.step_tangents(step, p.f, states, p.theta, t0, t1, V)
    return states, tangents, da.pairings(da.step_multipliers(step, p.f, states, p.theta, t0, t1, lam_n), tangents)


def continuous_pairings(p, n_steps, states, tangents):
    """λ(t_k)·δz_k with the continuous adjoint's λ (eq. 11) on the RK4 grid of `states`."""
    zs = np.array([states[0], states[-1]])
    grid = np.linspace(p.ts[0], p.ts[1], n_steps + 1)[None]
    continuous = lg.eq11_adjoint_multiplier(p.f, zs, p.theta, p.ts, n_steps, grad(p.loss)(zs), grid).lam[0]
    return da.pairings(continuous, tangents)


@pytest.mark.parametrize("step", [da.euler_step, rk4_step], ids=["euler", "rk4"])
def test_the_discrete_multipliers_keep_the_pairing_constant(step):
    p, n_steps, epsilon = problem(), 8, 1e-6
    discrete = discrete_pairings(p, n_steps, step)[-1]
    assert np.ptp(discrete) < ROUND_OFF * abs(discrete[0])  # the same number at every step

    def final_loss(z0):
        states = da.one_step_states(step, p.f, z0, p.theta, *p.ts, n_steps)
        return p.loss(np.array([z0, states[-1]]))

    dL = (final_loss(p.z0 + epsilon * V) - final_loss(p.z0 - epsilon * V)) / (2 * epsilon)
    assert relative(discrete[0], dL) < 1e-8  # and it is δL (central differences: error ~ε²)


def test_the_continuous_adjoint_keeps_it_only_to_order_4():
    p = problem()
    drift = []
    for n_steps in (16, 32, 64):
        states, tangents, discrete = discrete_pairings(p, n_steps)
        continuous = continuous_pairings(p, n_steps, states, tangents)
        drift.append(np.max(np.abs(continuous - discrete[0])) / abs(discrete[0]))
    orders = np.log2(np.array(drift[:-1]) / drift[1:])
    assert drift[0] > 1e-6  # far above round-off: not conserved (1.3e-5 at 16 steps)
    assert np.all((orders > 3.8) & (orders < 4.8)), orders
