"""Exercise 2 with a plausible mistake: sys.exit(0) inside the function (left from debugging)."""
import sys


def vjps(f, z, theta, t, lam):
    print("debugging: stop here")
    sys.exit(0)
