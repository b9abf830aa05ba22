"""Exercise 3 with a common mistake: f is treated as if it did not depend on t."""
from autograd import make_vjp


def augmented_dynamics(f, z, lam, theta, t):
    pullback, dz_dt = make_vjp(f, argnum=(0, 1))(z, theta, t)
    a, b = pullback(lam)
    return dz_dt, -a, -b, 0.0
