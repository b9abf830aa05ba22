"""Exercise 2: the vector–Jacobian products λ ∂f/∂z and λ ∂f/∂θ of eqs. (11)–(12), by make_vjp.

Graded against explicit Jacobians from `autograd.jacobian`, contracted with λ by hand.
"""
import numpy as np
from autograd import jacobian

from ._common import EXACT_TOL, TRANSPOSED, WRONG_SIGN, Case, Mistake, call, dynamics, expect_close, outputs

TITLE = "vector–Jacobian products"
EQUATIONS = "eqs. (11)–(12)"
SUMMARY = "λ ∂f/∂z and λ ∂f/∂θ from one make_vjp call, without forming a Jacobian"
FUNCTION = "vjps"
SKELETON = '''from autograd import make_vjp


def vjps(f, z, theta, t, lam):
    """The row vector λ times the Jacobians of f(z, theta, t) at (z, theta, t).

    lam has the shape of z (one state (D,) or a batch (B, D)); theta is one array.
    Returns (lam_df_dz, lam_df_dtheta): λ ∂f/∂z shaped like z and λ ∂f/∂θ shaped like theta,
    i.e. sum_i lam[i] * df[i]/dz and sum_i lam[i] * df[i]/dtheta over every entry i of f.
    """
    raise NotImplementedError("exercise 2: write the body of vjps")
'''


def contract(lam, J):
    """Σ_i λ_i J[i, ...]: λ (shaped like f) times a Jacobian J of shape f.shape + x.shape."""
    return np.tensordot(lam, J, axes=np.ndim(lam))


def vjp_case(rng, shape, t):
    """Random z, θ, λ; the answer must match λ contracted with autograd.jacobian, to round-off."""
    dim = shape[-1]
    z, theta, lam = rng.normal(size=shape), rng.normal(size=(dim + 1, dim)), rng.normal(size=shape)

    def grade(fn):
        lam_df_dz, lam_df_dtheta = outputs(call(fn, dynamics, z, theta, t, lam), ["lam_df_dz", "lam_df_dtheta"])
        J_z, J_theta = jacobian(dynamics, 0)(z, theta, t), jacobian(dynamics, 1)(z, theta, t)
        expected = contract(lam, J_z)
        expect_close("λ ∂f/∂z", lam_df_dz, expected, EXACT_TOL, [
            Mistake(TRANSPOSED, "you computed (∂f/∂z) λ; the adjoint needs λ (∂f/∂z), the row vector on "
                                "the left: pass λ to the function make_vjp returns",
                    lambda: np.tensordot(J_z, lam, axes=lam.ndim)),
            Mistake(WRONG_SIGN, "λ ∂f/∂z itself has no minus sign; the minus belongs to eq. (11)",
                    lambda: -expected)])
        expected = contract(lam, J_theta)
        expect_close("λ ∂f/∂θ", lam_df_dtheta, expected, EXACT_TOL, [
            Mistake(WRONG_SIGN, "λ ∂f/∂θ itself has no minus sign", lambda: -expected)])

    return Case(f"z of shape {shape}, θ of shape {(dim + 1, dim)}, t={t:g}", grade)


def cases(rng):
    """Vectors (D = 3, 5) and batches, several times t."""
    return [vjp_case(rng, (3,), 0.4), vjp_case(rng, (4, 2), 1.3), vjp_case(rng, (5,), -0.7),
            vjp_case(rng, (2, 3), 0.0)]
