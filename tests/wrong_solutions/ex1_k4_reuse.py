"""Exercise 1 with a plausible mistake: "first same as last" borrowed from Dormand–Prince: when a step
starts where the previous call ended, its k1 is taken to be that call's k4 = f(z + h k3, t + h), which
is not f at the new state (order 3 once steps are chained)."""
_previous = {}


def rk4_step(f, z, theta, t, h):
    reuse = _previous.get("end") == (t, z.shape)
    k1 = _previous["k4"] if reuse else f(z, theta, t)
    k2 = f(z + h / 2 * k1, theta, t + h / 2)
    k3 = f(z + h / 2 * k2, theta, t + h / 2)
    k4 = f(z + h * k3, theta, t + h)
    _previous.update(end=(t + h, z.shape), k4=k4)
    return z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
