"""Exercise 8 with a plausible mistake: λ and dL/dθ kept in float64, but each interval's backward
pass run on float32 copies of the states (to "save memory")."""
import numpy as np

from adjoint_ref.exercises.solutions.ex4_backward_pass import backward_pass


def adjoint_with_observations(f, zs, theta, ts, dL_dzs, n_steps):
    lam, dL_dtheta = dL_dzs[-1], np.zeros(theta.shape)
    for i in range(len(ts) - 1, 0, -1):
        lam32, part = backward_pass(f, zs[i].astype(np.float32), theta, ts[i - 1], ts[i], lam, n_steps)
        lam, dL_dtheta = lam32 + dL_dzs[i - 1], dL_dtheta + part
    return lam, dL_dtheta
