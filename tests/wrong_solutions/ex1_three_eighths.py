"""Exercise 1 with a plausible mistake: Kutta's 3/8 rule, another fourth-order method (stages at t,
t + h/3, t + 2h/3, t + h, weights 1/8, 3/8, 3/8, 1/8): close to RK4 but not its step. All float64."""


def rk4_step(f, z, theta, t, h):
    k1 = f(z, theta, t)
    k2 = f(z + h / 3 * k1, theta, t + h / 3)
    k3 = f(z - h / 3 * k1 + h * k2, theta, t + 2 * h / 3)
    k4 = f(z + h * k1 - h * k2 + h * k3, theta, t + h)
    return z + h / 8 * (k1 + 3 * k2 + 3 * k3 + k4)
