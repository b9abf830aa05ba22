"""Exercise 1 with a plausible mistake: a script-style file that ends with sys.exit(0) at import."""
import sys


def rk4_step(f, z, theta, t, h):
    return z


sys.exit(0)
