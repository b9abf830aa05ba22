"""Reference answer to exercise 1: one classical RK4 step, written out."""


def rk4_step(f, z, theta, t, h):
    """Slopes at t, t + h/2, t + h/2, t + h, weighted 1:2:2:1 (as `adjoint_ref.rk4.rk4_step`)."""
    k1 = f(z, theta, t)
    k2 = f(z + (h / 2) * k1, theta, t + h / 2)
    k3 = f(z + (h / 2) * k2, theta, t + h / 2)
    k4 = f(z + h * k3, theta, t + h)
    return z + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
