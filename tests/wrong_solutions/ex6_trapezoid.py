"""Exercise 6 with a plausible mistake: terms 2 and 3 by the trapezoidal rule on the RK4 grid
(second order) instead of integrating them with RK4 (or Simpson's rule)."""
import numpy as np
from autograd import jacobian

from adjoint_ref.rk4 import solve_interval


def eq10_terms(f, z0, theta, t0, t1, dL_dz1, lam, dlam_dt, n_steps):
    n, p = z0.size, theta.size
    df_dz, df_dtheta = jacobian(f, 0), jacobian(f, 1)

    def rates(s, theta, t):
        z, S = s[:n].reshape(z0.shape), s[n:].reshape(n, p)
        J_z, J_theta = df_dz(z, theta, t).reshape(n, n), df_dtheta(z, theta, t).reshape(n, p)
        return np.concatenate([f(z, theta, t).ravel(), (J_z @ S + J_theta).ravel()])

    steps = []
    solve_interval(rates, np.zeros(n + n * p) + np.concatenate([z0.ravel(), np.zeros(n * p)]), theta, t0, t1,
                   n_steps, record=steps)
    grid = [(t0, np.concatenate([z0.ravel(), np.zeros(n * p)]))] + steps
    values2, values3 = [], []
    for t, s in grid:
        z, S = s[:n].reshape(z0.shape), s[n:].reshape(n, p)
        J_z, J_theta = df_dz(z, theta, t).reshape(n, n), df_dtheta(z, theta, t).reshape(n, p)
        lam_t = lam(t).ravel()
        values2.append((dlam_dt(t).ravel() + lam_t @ J_z) @ S)
        values3.append(lam_t @ J_theta)
    h = (t1 - t0) / n_steps
    weights = np.full(n_steps + 1, h)
    weights[[0, -1]] = h / 2
    term1 = (dL_dz1.ravel() - lam(t1).ravel()) @ grid[-1][1][n:].reshape(n, p)
    return tuple(np.reshape(x, theta.shape) for x in (term1, weights @ np.array(values2), weights @ np.array(values3)))
