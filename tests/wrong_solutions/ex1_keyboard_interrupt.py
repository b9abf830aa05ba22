"""Exercise 1 with a plausible mistake: KeyboardInterrupt raised inside the function (as a Ctrl-C
handler left in a notebook would)."""


def rk4_step(f, z, theta, t, h):
    raise KeyboardInterrupt
