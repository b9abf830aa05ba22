"""Exercise 3: the right-hand side of the augmented backward system, eqs. (11)–(12) and a_t.

Graded against explicit Jacobians of f with respect to z, θ (flattened) and t from `autograd.jacobian`,
on the five dynamics of exercise 2 (θ an array, a dict, a list), so that rates derived by hand for one
f fail on the others.
"""
import numpy as np

from ._common import (ALL_DYNAMICS, EXACT_TOL, TIME_DEPENDENCE, TRANSPOSED, WRONG_DIRECTION, WRONG_SIGN, Case,
                      Mistake, call, expect_close, outputs, tree_map)
from ._guard import Tally, float32_seen
from .ex2_vjps import contract, jacobians

TITLE = "the augmented backward dynamics"
EQUATIONS = "eqs. (11)–(12)"
SUMMARY = "the rates of [z, λ, a_θ, a_t] that the backward pass integrates from t1 to t0"
FUNCTION = "augmented_dynamics"
SKELETON = '''from autograd import make_vjp


def augmented_dynamics(f, z, lam, theta, t):
    """The time derivatives of the augmented state [z, λ, a_θ, a_t] at time t.

    dz/dt = f(z, θ, t)           (z is re-integrated backwards alongside λ)
    dλ/dt = −λ ∂f/∂z             (eq. 11)
    da_θ/dt = −λ ∂f/∂θ           (eq. 12 in differential form: a_θ(t0) = dL/dθ)
    da_t/dt = −λ ∂f/∂t           (a_t(t0) = dL/dt0, exercise 5)
    lam has the shape of z (one state (D,) or a batch (B, D)); theta is an array or a container
    (dict, list) of arrays; t a float. Returns (dz_dt, dlam_dt, da_theta_dt, da_t_dt) shaped like
    z, z, theta (a container of the same structure) and a scalar.
    """
    raise NotImplementedError("exercise 3: write the body of augmented_dynamics")
'''


BLOCKED = ("adjoint_ref.adjoint.augmented_dynamics", "adjoint_ref._impl.fast_vjp.vjp_of")
ALLOWED = ("Exercise 3 may import numpy and autograd (make_vjp); from adjoint_ref nothing (its "
           "adjoint.augmented_dynamics is this exercise).")


def rates_case(rng, shape, t, dyn):
    """Random z, λ, θ (drawn by `dyn`) at time t; each rate must match its explicit-Jacobian value, to round-off."""
    dim = shape[-1]
    z, lam, theta = rng.normal(size=shape), rng.normal(size=shape), dyn.draw(rng, dim)

    def grade(fn):
        names = ["dz_dt", "dlam_dt", "da_theta_dt", "da_t_dt"]
        f = Tally(dyn.f)
        dz_dt, dlam_dt, da_theta_dt, da_t_dt = outputs(call(fn, f, z, lam, theta, t), names)
        value = dyn.f(z, theta, t)
        J_z, J_theta, J_t, unflatten = jacobians(dyn.f, z, theta, t)
        in32 = float32_seen(f)
        expect_close("dz/dt", dz_dt, value, EXACT_TOL, float32=in32, mistakes=[
            Mistake(WRONG_DIRECTION, "dz/dt is f in both directions of time; going backwards comes from "
                                     "the negative step h = (t0 − t1)/N, not from negating f", lambda: -value)])
        expected = -contract(lam, J_z)
        expect_close("dλ/dt", dlam_dt, expected, EXACT_TOL, float32=in32, mistakes=[
            Mistake(WRONG_SIGN, "eq. (11) reads dλ/dt = −λ ∂f/∂z", lambda: -expected),
            Mistake(TRANSPOSED, "λ multiplies ∂f/∂z from the left (a vector–Jacobian product), "
                                "not from the right", lambda: -np.tensordot(J_z, lam, axes=lam.ndim))])
        expected = unflatten(-contract(lam, J_theta))
        expect_close("da_θ/dt", da_theta_dt, expected, EXACT_TOL, float32=in32, mistakes=[
            Mistake(WRONG_SIGN, "a_θ(t) = ∫_t^{t1} λ ∂f/∂θ dt' decreases in t: da_θ/dt = −λ ∂f/∂θ",
                    lambda: tree_map(np.negative, expected))])
        expected = -np.vdot(lam, J_t)
        expect_close("da_t/dt", da_t_dt, expected, EXACT_TOL, float32=in32, mistakes=[
            Mistake(TIME_DEPENDENCE, "this f depends on t explicitly, so da_t/dt = −λ ∂f/∂t is not 0",
                    lambda: 0.0 * expected),
            Mistake(WRONG_SIGN, "da_t/dt = −λ ∂f/∂t", lambda: -expected)])

    return Case(f"z of shape {shape}, t={t:g}, f = {dyn.name}", grade)


def cases(rng):
    """Vectors and batches of several dimensions, several times t, each of the five dynamics, then the
    first case's shape and t again with new values (an answer that caches by t or shape fails)."""
    shapes_and_times = [((3,), 0.7), ((4, 2), -1.2), ((1,), 2.0), ((2, 5), 0.1), ((3,), 0.9)]
    return ([rates_case(rng, shape, t, dyn) for (shape, t), dyn in zip(shapes_and_times, ALL_DYNAMICS)]
            + [rates_case(rng, (3,), 0.7, ALL_DYNAMICS[0])])
