"""Exercise 2 with a plausible mistake: the products derived by hand for the tanh layer of the
statement's conventions, f = tanh(z W + t w) with θ = [W; w]: right for that f, wrong for any other."""
import numpy as np


def vjps(f, z, theta, t, lam):
    W = theta[:-1]
    u = lam * (1 - np.tanh(z @ W + t * theta[-1]) ** 2)  # λ ⊙ tanh'
    lam_df_dz = u @ W.T
    lam_df_dW = np.einsum("bi,bj->ij", z, u) if z.ndim > 1 else np.outer(z, u)
    lam_df_dw = t * u.sum(axis=0) if z.ndim > 1 else t * u
    return lam_df_dz, np.vstack([lam_df_dW, lam_df_dw])
