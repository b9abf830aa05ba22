"""Exercise 4 with a plausible mistake: z and λ start as other names for the inputs z1 and dL_dz1
and are then updated in place (+=), which changes the caller's arrays. The numbers are right."""
import numpy as np
from autograd import make_vjp


def backward_pass(f, z1, theta, t0, t1, dL_dz1, n_steps):
    def rates(z, lam, t):
        pullback, dz = make_vjp(f, argnum=(0, 1))(z, theta, t)
        lam_fz, lam_ftheta = pullback(lam)
        return dz, -lam_fz, -lam_ftheta

    z, lam, a = z1, dL_dz1, np.zeros_like(theta)
    h = (t0 - t1) / n_steps
    for k in range(n_steps):
        t = t1 + k * h
        k1 = rates(z, lam, t)
        k2 = rates(z + h / 2 * k1[0], lam + h / 2 * k1[1], t + h / 2)
        k3 = rates(z + h / 2 * k2[0], lam + h / 2 * k2[1], t + h / 2)
        k4 = rates(z + h * k3[0], lam + h * k3[1], t + h)
        z += h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        lam += h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        a += h / 6 * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2])
    return lam, a
