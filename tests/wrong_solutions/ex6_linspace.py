"""Exercise 6 with a plausible mistake: the RK4 grid from np.linspace(t0, t1, n_steps), i.e. n_steps − 1
steps (each step a call of solve_interval with one step): the terms are only (n/(n−1))⁴ less accurate."""
import numpy as np
from autograd import jacobian

from adjoint_ref.rk4 import solve_interval


def eq10_terms(f, z0, theta, t0, t1, dL_dz1, lam, dlam_dt, n_steps):
    """Integrate [z, S = dz/dθ, term 2, term 3] from t0 to t1 with RK4; term 1 from S(t1).

    S obeys dS/dt = ∂f/∂z S + ∂f/∂θ, S(t0) = 0; the Jacobians are formed explicitly (small problems).
    """
    n, p = np.size(z0), np.size(theta)
    df_dz, df_dtheta = jacobian(f, 0), jacobian(f, 1)

    def rates(s, theta, t):
        z, S = s[:n].reshape(np.shape(z0)), s[n:n + n * p].reshape(n, p)
        J_z, J_theta = df_dz(z, theta, t).reshape(n, n), df_dtheta(z, theta, t).reshape(n, p)
        lam_t = np.ravel(lam(t))
        return np.concatenate([np.ravel(f(z, theta, t)), np.ravel(J_z @ S + J_theta),
                               (np.ravel(dlam_dt(t)) + lam_t @ J_z) @ S, lam_t @ J_theta])

    s1 = np.concatenate([np.ravel(z0), np.zeros(n * p + 2 * p)])
    times = np.linspace(t0, t1, n_steps)
    for t_start, t_end in zip(times[:-1], times[1:]):
        s1 = solve_interval(rates, s1, theta, t_start, t_end, 1)
    term1 = (np.ravel(dL_dz1) - np.ravel(lam(t1))) @ s1[n:n + n * p].reshape(n, p)
    return tuple(np.reshape(term, np.shape(theta)) for term in (term1, s1[-2 * p:-p], s1[-p:]))
