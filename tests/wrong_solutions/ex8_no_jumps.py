"""Exercise 8 with a common mistake: λ starts at ∂L/∂z(t_N) and never jumps."""
import numpy as np

from adjoint_ref.exercises.solutions.ex4_backward_pass import backward_pass


def adjoint_with_observations(f, zs, theta, ts, dL_dzs, n_steps):
    lam, dL_dtheta = dL_dzs[-1], np.zeros(theta.shape)
    for i in range(len(ts) - 1, 0, -1):
        lam, part = backward_pass(f, zs[i], theta, ts[i - 1], ts[i], lam, n_steps)
        dL_dtheta = dL_dtheta + part
    return lam, dL_dtheta
