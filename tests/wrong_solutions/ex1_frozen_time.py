"""Exercise 1 with a common mistake: every stage evaluates f at time t."""


def rk4_step(f, z, theta, t, h):
    k1 = f(z, theta, t)
    k2 = f(z + h / 2 * k1, theta, t)
    k3 = f(z + h / 2 * k2, theta, t)
    k4 = f(z + h * k3, theta, t)
    return z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
