"""Reference answer to exercise 7: reverse mode through the stored RK4 steps."""
import numpy as np
from autograd import make_vjp

from adjoint_ref import rk4


def discrete_adjoint(f, z0, theta, t0, t1, dL_dz1, n_steps):
    """Store the forward steps; then, last step first, λ_k = λ_{k+1} ∂z_{k+1}/∂z_k and
    dL/dθ += λ_{k+1} ∂z_{k+1}/∂θ, with one make_vjp of the RK4 step per step."""
    h = (t1 - t0) / n_steps
    steps = []
    rk4.solve_interval(f, z0, theta, t0, t1, n_steps, record=steps)
    starts = [z0] + [z for _, z in steps[:-1]]
    lam, dL_dtheta = dL_dz1, np.zeros(np.shape(theta))
    for k in reversed(range(n_steps)):
        pullback, _ = make_vjp(rk4.rk4_step, argnum=(1, 2))(f, starts[k], theta, t0 + k * h, h)
        lam, step_dtheta = pullback(lam)
        dL_dtheta = dL_dtheta + step_dtheta
    return lam, dL_dtheta
