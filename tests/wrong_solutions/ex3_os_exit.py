"""Exercise 3 with a plausible mistake: os._exit(0) inside the function, which ends the process
without any exception that could be caught."""
import os


def augmented_dynamics(f, z, lam, theta, t):
    os._exit(0)
