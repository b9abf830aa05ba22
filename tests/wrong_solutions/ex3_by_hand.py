"""Exercise 3 with a plausible mistake: the rates derived by hand for f = tanh(z W + t w), θ = [W; w]
(the statement's usual example): right for that f only."""
import numpy as np


def augmented_dynamics(f, z, lam, theta, t):
    W, w = theta[:-1], theta[-1]
    dz_dt = np.tanh(z @ W + t * w)
    u = lam * (1 - dz_dt ** 2)
    lam_fW = np.einsum("bi,bj->ij", z, u) if z.ndim > 1 else np.outer(z, u)
    lam_fw = t * (u.sum(axis=0) if z.ndim > 1 else u)
    return dz_dt, -(u @ W.T), -np.vstack([lam_fW, lam_fw]), -np.sum(u * w)
