"""Exercise 3 with a plausible mistake: the minus signs of eqs. (11)–(12) put into λ in place,
which changes the caller's λ. The returned rates are right."""
from autograd import make_vjp


def augmented_dynamics(f, z, lam, theta, t):
    lam *= -1
    pullback, dz_dt = make_vjp(f, argnum=(0, 1, 2))(z, theta, t)
    return (dz_dt,) + tuple(pullback(lam))
