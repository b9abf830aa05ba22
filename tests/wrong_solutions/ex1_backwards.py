"""Exercise 1 with a common mistake: the step goes from t to t − h."""


def rk4_step(f, z, theta, t, h):
    k1 = f(z, theta, t)
    k2 = f(z - h / 2 * k1, theta, t - h / 2)
    k3 = f(z - h / 2 * k2, theta, t - h / 2)
    k4 = f(z - h * k3, theta, t - h)
    return z - h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
