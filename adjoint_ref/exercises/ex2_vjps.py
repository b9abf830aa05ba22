"""Exercise 2: the vector–Jacobian products λ ∂f/∂z and λ ∂f/∂θ of eqs. (11)–(12), by make_vjp.

Graded against explicit Jacobians from `autograd.jacobian` (with respect to θ flattened), contracted
with λ by hand, on five dynamics of different form (a tanh layer, a polynomial, a rotation with a
t-dependent forcing; an MLP whose θ is a dict, a rotation whose θ is a list), so that a formula
derived by hand for one f fails on the others; f must be evaluated once, inside one make_vjp.
"""
import numpy as np
from autograd import jacobian
from autograd.misc import flatten

from ._common import (ALL_DYNAMICS, EXACT_TOL, TRANSPOSED, WRONG_SIGN, Case, Mistake, Wrong, call, expect_close,
                      outputs, tree_map)
from ._guard import COUNT, Tally, float32_seen, traced

TITLE = "vector–Jacobian products"
EQUATIONS = "eqs. (11)–(12)"
SUMMARY = "λ ∂f/∂z and λ ∂f/∂θ from one make_vjp call, without forming a Jacobian"
FUNCTION = "vjps"
SKELETON = '''from autograd import make_vjp


def vjps(f, z, theta, t, lam):
    """The row vector λ times the Jacobians of f(z, theta, t) at (z, theta, t).

    lam has the shape of z (one state (D,) or a batch (B, D)); theta is an array or a container
    (dict, list) of arrays. Returns (lam_df_dz, lam_df_dtheta): λ ∂f/∂z shaped like z and λ ∂f/∂θ
    shaped like theta (a container of the same structure),
    i.e. sum_i lam[i] * df[i]/dz and sum_i lam[i] * df[i]/dtheta over every entry i of f.
    """
    raise NotImplementedError("exercise 2: write the body of vjps")
'''


BLOCKED = ("adjoint_ref._impl.fast_vjp.vjp_of", "adjoint_ref.adjoint.augmented_dynamics")
ALLOWED = "Exercise 2 may import numpy and autograd (make_vjp); nothing from adjoint_ref."


def contract(lam, J):
    """Σ_i λ_i J[i, ...]: λ (shaped like f) times a Jacobian J of shape f.shape + x.shape."""
    return np.tensordot(lam, J, axes=np.ndim(lam))


def jacobians(f, z, theta, t):
    """(∂f/∂z, ∂f/∂θ with θ flattened, ∂f/∂t, unflatten): explicit Jacobians by `autograd.jacobian`."""
    flat, unflatten = flatten(theta)

    def f_flat(z, flat, t):
        return f(z, unflatten(flat), t)

    return (jacobian(f_flat, 0)(z, flat, t), jacobian(f_flat, 1)(z, flat, t), jacobian(f_flat, 2)(z, flat, t),
            unflatten)


def one_make_vjp(f):
    """'' if the learner evaluated f once, inside one make_vjp (a trace), as the statement asks; else why not."""
    inside = traced(f.calls)
    if len(inside) == 1 and len(f.calls) - len(inside) <= 1:
        return ""
    if not f.calls:
        return (f"{COUNT}: f was never called, where the statement asks for one make_vjp call: products "
                "derived by hand for one f are wrong for every other f")
    return (f"{COUNT}: f was evaluated {len(inside)} times inside make_vjp (or jacobian, grad) and "
            f"{len(f.calls) - len(inside)} times outside it, where the statement asks for one make_vjp call "
            "(one evaluation of f, no Jacobian): make_vjp(f, argnum=(0, 1))(z, theta, t) gives both products")


def vjp_case(rng, shape, t, dyn):
    """Random z, θ (drawn by `dyn`), λ; the answer must match λ contracted with explicit Jacobians, to round-off."""
    dim = shape[-1]
    z, theta, lam = rng.normal(size=shape), dyn.draw(rng, dim), rng.normal(size=shape)

    def grade(fn):
        f = Tally(dyn.f)
        lam_df_dz, lam_df_dtheta = outputs(call(fn, f, z, theta, t, lam), ["lam_df_dz", "lam_df_dtheta"])
        J_z, J_theta, _, unflatten = jacobians(dyn.f, z, theta, t)
        expected = contract(lam, J_z)
        expect_close("λ ∂f/∂z", lam_df_dz, expected, EXACT_TOL, float32=float32_seen(f), mistakes=[
            Mistake(TRANSPOSED, "you computed (∂f/∂z) λ; the adjoint needs λ (∂f/∂z), the row vector on "
                                "the left: pass λ to the function make_vjp returns",
                    lambda: np.tensordot(J_z, lam, axes=lam.ndim)),
            Mistake(WRONG_SIGN, "λ ∂f/∂z itself has no minus sign; the minus belongs to eq. (11)",
                    lambda: -expected)])
        expected = unflatten(contract(lam, J_theta))
        expect_close("λ ∂f/∂θ", lam_df_dtheta, expected, EXACT_TOL, float32=float32_seen(f), mistakes=[
            Mistake(WRONG_SIGN, "λ ∂f/∂θ itself has no minus sign", lambda: tree_map(np.negative, expected))])
        if one_make_vjp(f):
            raise Wrong(one_make_vjp(f))

    return Case(f"z of shape {shape}, t={t:g}, f = {dyn.name}", grade)


def cases(rng):
    """Vectors and batches, several times t, each of the five dynamics, then the first case's z shape and
    t again with new values (an answer that caches its result by t or shape fails)."""
    shapes_and_times = [((3,), 0.4), ((4, 2), 1.3), ((5,), -0.7), ((2, 3), 0.0), ((3,), -1.1)]
    return ([vjp_case(rng, shape, t, dyn) for (shape, t), dyn in zip(shapes_and_times, ALL_DYNAMICS)]
            + [vjp_case(rng, (3,), 0.4, ALL_DYNAMICS[0])])
