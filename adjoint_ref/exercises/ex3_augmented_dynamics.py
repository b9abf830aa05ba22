"""Exercise 3: the right-hand side of the augmented backward system, eqs. (11)–(12) and a_t.

Graded against explicit Jacobians of f with respect to z, θ and t from `autograd.jacobian`.
"""
import numpy as np
from autograd import jacobian

from ._common import (EXACT_TOL, TIME_DEPENDENCE, TRANSPOSED, WRONG_DIRECTION, WRONG_SIGN, Case, Mistake, call,
                      dynamics, expect_close, outputs)
from .ex2_vjps import contract

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
    lam has the shape of z (one state (D,) or a batch (B, D)); theta is one array; t a float.
    Returns (dz_dt, dlam_dt, da_theta_dt, da_t_dt) shaped like z, z, theta and a scalar.
    """
    raise NotImplementedError("exercise 3: write the body of augmented_dynamics")
'''


def rates_case(rng, shape, t):
    """Random z, λ, θ at time t; each rate must match its explicit-Jacobian value, to round-off."""
    dim = shape[-1]
    z, lam, theta = rng.normal(size=shape), rng.normal(size=shape), rng.normal(size=(dim + 1, dim))

    def grade(fn):
        names = ["dz_dt", "dlam_dt", "da_theta_dt", "da_t_dt"]
        dz_dt, dlam_dt, da_theta_dt, da_t_dt = outputs(call(fn, dynamics, z, lam, theta, t), names)
        f = dynamics(z, theta, t)
        J_z, J_theta, J_t = (jacobian(dynamics, k)(z, theta, t) for k in range(3))
        expect_close("dz/dt", dz_dt, f, EXACT_TOL, [
            Mistake(WRONG_DIRECTION, "dz/dt is f in both directions of time; going backwards comes from "
                                     "the negative step h = (t0 − t1)/N, not from negating f", lambda: -f)])
        expected = -contract(lam, J_z)
        expect_close("dλ/dt", dlam_dt, expected, EXACT_TOL, [
            Mistake(WRONG_SIGN, "eq. (11) reads dλ/dt = −λ ∂f/∂z", lambda: -expected),
            Mistake(TRANSPOSED, "λ multiplies ∂f/∂z from the left (a vector–Jacobian product), "
                                "not from the right", lambda: -np.tensordot(J_z, lam, axes=lam.ndim))])
        expected = -contract(lam, J_theta)
        expect_close("da_θ/dt", da_theta_dt, expected, EXACT_TOL, [
            Mistake(WRONG_SIGN, "a_θ(t) = ∫_t^{t1} λ ∂f/∂θ dt' decreases in t: da_θ/dt = −λ ∂f/∂θ",
                    lambda: -expected)])
        expected = -np.vdot(lam, J_t)
        expect_close("da_t/dt", da_t_dt, expected, EXACT_TOL, [
            Mistake(TIME_DEPENDENCE, "this f depends on t explicitly, so da_t/dt = −λ ∂f/∂t is not 0",
                    lambda: 0.0 * expected),
            Mistake(WRONG_SIGN, "da_t/dt = −λ ∂f/∂t", lambda: -expected)])

    return Case(f"z of shape {shape}, θ of shape {(dim + 1, dim)}, t={t:g}", grade)


def cases(rng):
    """Vectors and batches of several dimensions, several times t."""
    return [rates_case(rng, (3,), 0.7), rates_case(rng, (4, 2), -1.2), rates_case(rng, (1,), 2.0),
            rates_case(rng, (2, 5), 0.1)]
