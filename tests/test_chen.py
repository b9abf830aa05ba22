"""Chen et al.'s augmented-state derivation (App. B.2 of "Neural Ordinary Differential Equations"), beside the
post's Lagrangian one (derivation/README.md, "Chen et al.'s derivation").

One adjoint for x = [z, θ, t], by one VJP of the whole f_aug = [f, 0, 1], solved backwards with RK4 from
Algorithm 2's start value, must give the three gradients of the post's adjoint: the same RK4 steps, so to
round-off (1e-10 relative; the clock t is advanced by the stages instead of set, which moves the last
bits), and finite differences of the forward pass to RK4's order. Starting a_t at +dL/dt1 instead of −dL/dt1
must miss dL/dt0 by exactly 2 dL/dt1.
"""
import numpy as np
import pytest
from autograd import grad, jacobian

import adjoint_ref as ar
from adjoint_ref import lagrangian as lg
from adjoint_ref._impl.tree import ravel_tree
from adjoint_ref.problems.models import cosine_problem, default_problem, mlp_formula
from adjoint_ref.rk4 import integrate, solve_interval
from reference import relative

N_STEPS = 16
# The MLP as a plain autograd formula: f_aug hands f a θ whose leaves are traced inside a dict, which an
# autograd primitive taking the whole dict (models.mlp_dynamics) cannot see.
PROBLEMS = {"cosine": cosine_problem(), "mlp": default_problem(hidden=4, batch=0, n_times=2)._replace(f=mlp_formula)}


def chen_solve(p, flip_a_t=False, n_steps=N_STEPS):
    """(a(t0), a_θ(t0), a_t(t0), dL/dt1) from the augmented adjoint solved backwards from t1, from
    `lagrangian.chen_start` (Algorithm 2), or with a_t's start value negated (flip_a_t)."""
    (t0, t1) = p.ts
    zs = integrate(p.f, p.z0, p.theta, p.ts, n_steps)
    dL_dz1 = grad(p.loss)(zs)[-1]
    dL_dt1 = float(np.vdot(dL_dz1, p.f(zs[-1], p.theta, t1)))
    size = np.size(p.z0) + ravel_tree(p.theta).size + 1
    s1 = lg.chen_start(zs[-1], p.theta, t1, dL_dz1, dL_dt1)
    if flip_a_t:
        s1[-1] = -s1[-1]
    f_aug = lg.chen_augmented_dynamics(p.f, np.shape(p.z0), p.theta)
    s0 = solve_interval(lg.chen_adjoint_dynamics(f_aug, size), s1, None, t1, t0, n_steps, "backward")
    a = s0[size:]
    n = np.size(p.z0)
    return a[:n], a[n:-1], a[-1], dL_dt1


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_one_augmented_adjoint_gives_the_three_gradients_of_the_post(name):
    p = PROBLEMS[name]
    a, a_theta, a_t, _ = chen_solve(p)
    adjoint = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, N_STEPS, "adjoint")
    assert relative(a, np.ravel(adjoint.z0)) < 1e-10
    assert relative(a_theta, ravel_tree(adjoint.theta)) < 1e-10
    assert relative(a_t, adjoint.ts[0]) < 1e-10
    fd = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, N_STEPS, "finite_differences")
    assert relative(a_t, fd.ts[0]) < 1e-5  # RK4 at h = 1/16 or 3/32: observed 1.4e-6 (cosine)


def test_its_right_hand_side_is_the_three_products_of_the_post():
    # −a_aug ∂f_aug/∂x, one VJP, against −[a ∂f/∂z, a ∂f/∂θ, a ∂f/∂t] from f's full Jacobians.
    p = PROBLEMS["mlp"]
    rng = np.random.default_rng(3)
    z, t, a = rng.normal(size=p.z0.shape), 0.3, rng.normal(size=p.z0.shape)
    flat = ravel_tree(p.theta)
    x = np.concatenate([z, flat, [t]])
    a_aug = np.concatenate([a, rng.normal(size=flat.size), [rng.normal()]])  # a_θ, a_t feed nothing back
    rhs = lg.chen_adjoint_dynamics(lg.chen_augmented_dynamics(p.f, z.shape, p.theta), x.size)(
        np.concatenate([x, a_aug]), None, None)[x.size:]
    f_z = jacobian(lambda y: p.f(y, p.theta, t))(z)
    f_theta = jacobian(lambda w: p.f(z, lg.unravel_like(w, p.theta), t))(flat)
    f_t = jacobian(lambda s: p.f(z, p.theta, s))(t)
    assert relative(rhs, -np.concatenate([a @ f_z, a @ f_theta, [a @ f_t]])) < 1e-13


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_starting_a_t_at_plus_dL_dt1_misses_by_twice_dL_dt1(name):
    p = PROBLEMS[name]
    *_, right, dL_dt1 = chen_solve(p)
    *_, wrong, _ = chen_solve(p, flip_a_t=True)
    assert relative(wrong - right, 2 * dL_dt1) < 1e-10
    assert abs(wrong - right) > 0.1 * abs(right)  # a visible error, not a rounding
