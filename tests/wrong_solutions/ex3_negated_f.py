"""Exercise 3 with a common mistake: dz/dt = −f "because we go backwards"."""
from autograd import make_vjp


def augmented_dynamics(f, z, lam, theta, t):
    pullback, dz_dt = make_vjp(f, argnum=(0, 1, 2))(z, theta, t)
    a, b, c = pullback(lam)
    return -dz_dt, -a, -b, -c
