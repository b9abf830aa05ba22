"""Reference answer to exercise 9: one RK4 step backwards through its stage multipliers, (D3)–(D4)."""
from autograd import make_vjp

A = (0.0, 0.5, 0.5, 1.0)
C = (0.0, 0.5, 0.5, 1.0)
B = (1 / 6, 1 / 3, 1 / 3, 1 / 6)


def step_multipliers(f, z, theta, t, h, lam_next):
    """Stages forwards with one make_vjp of f each; μ_i from the last stage; λ_k = λ_{k+1} + Σ μ_i ∂f/∂z."""
    stages, pullbacks = [], []
    for i in range(4):
        y = z if i == 0 else z + h * A[i] * stages[-1]
        pullback, k = make_vjp(f, argnum=(0, 1))(y, theta, t + C[i] * h)
        stages.append(k)
        pullbacks.append(pullback)
    lam, dL_dtheta_step, mu_fz = lam_next, 0.0, None
    for i in range(3, -1, -1):
        mu = h * B[i] * lam_next + (0.0 if i == 3 else h * A[i + 1] * mu_fz)
        mu_fz, mu_ftheta = pullbacks[i](mu)
        lam = lam + mu_fz
        dL_dtheta_step = dL_dtheta_step + mu_ftheta
    return lam, dL_dtheta_step
