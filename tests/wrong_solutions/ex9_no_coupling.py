"""Exercise 9 with a common mistake: each μ_i = h b_i λ_{k+1}, the coupling through Y_{i+1} forgotten."""
from autograd import make_vjp

A = (0.0, 0.5, 0.5, 1.0)
C = (0.0, 0.5, 0.5, 1.0)
B = (1 / 6, 1 / 3, 1 / 3, 1 / 6)


def step_multipliers(f, z, theta, t, h, lam_next):
    lam, dL_dtheta_step, k = lam_next, 0.0, None
    for i in range(4):
        y = z if i == 0 else z + h * A[i] * k
        pullback, k = make_vjp(f, argnum=(0, 1))(y, theta, t + C[i] * h)
        g_z, g_theta = pullback(h * B[i] * lam_next)
        lam, dL_dtheta_step = lam + g_z, dL_dtheta_step + g_theta
    return lam, dL_dtheta_step
