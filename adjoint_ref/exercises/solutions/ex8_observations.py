"""Reference answer to exercise 8: exercise 4 on each interval, with a jump of λ at every time."""
import numpy as np

from adjoint_ref.exercises.solutions.ex4_backward_pass import backward_pass


def adjoint_with_observations(f, zs, theta, ts, dL_dzs, n_steps):
    """λ(t_N) = ∂L/∂z(t_N); solve back one interval at a time; at each earlier t_i, λ += ∂L/∂z(t_i)."""
    lam, dL_dtheta = dL_dzs[-1], np.zeros(np.shape(theta))
    for i in range(len(ts) - 1, 0, -1):
        lam, interval_dtheta = backward_pass(f, zs[i], theta, ts[i - 1], ts[i], lam, n_steps)
        lam, dL_dtheta = lam + dL_dzs[i - 1], dL_dtheta + interval_dtheta
    return lam, dL_dtheta
