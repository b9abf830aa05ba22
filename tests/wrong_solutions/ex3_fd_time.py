"""Exercise 3 with a plausible mistake: ∂f/∂t by a central finite difference (step 1e-4) instead of
from the same make_vjp: all float64, right to about 1e-8, not to round-off."""
import numpy as np
from autograd import make_vjp
from autograd.misc import flatten


def augmented_dynamics(f, z, lam, theta, t):
    pullback, dz_dt = make_vjp(f, argnum=(0, 1))(z, theta, t)
    lam_fz, lam_ftheta = pullback(lam)
    flat, unflatten = flatten(lam_ftheta)
    df_dt = (f(z, theta, t + 1e-4) - f(z, theta, t - 1e-4)) / 2e-4
    return dz_dt, -lam_fz, unflatten(-flat), -np.vdot(lam, df_dt)
