"""Exercise 2 with a plausible mistake: λ negated in place ("the adjoint runs backwards"), which
also changes the caller's λ."""
from autograd import make_vjp


def vjps(f, z, theta, t, lam):
    lam *= -1
    pullback, _ = make_vjp(f, argnum=(0, 1))(z, theta, t)
    return pullback(lam)
