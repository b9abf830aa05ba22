"""Reference answer to exercise 3: the rates of [z, λ, a_θ, a_t]."""
from autograd import make_vjp
from autograd.misc import flatten


def negative(tree):
    """−θ for θ an array or a container (dict, list) of arrays."""
    flat, unflatten = flatten(tree)
    return unflatten(-flat)


def augmented_dynamics(f, z, lam, theta, t):
    """One reverse sweep gives λ ∂f/∂z, λ ∂f/∂θ and λ ∂f/∂t; the adjoint rates are their negatives."""
    pullback, dz_dt = make_vjp(f, argnum=(0, 1, 2))(z, theta, t)
    lam_df_dz, lam_df_dtheta, lam_df_dt = pullback(lam)
    return dz_dt, -lam_df_dz, negative(lam_df_dtheta), -lam_df_dt
