"""Counting f: how many evaluations a solve makes, and how many of them autograd records for a VJP.

`Counted(f)` is f with two counters. An evaluation whose arguments autograd is tracing (inside
`make_vjp`: one per Runge–Kutta stage of a backward pass, or every stage that backprop records)
counts as a VJP as well. The solvers know nothing of it: `api` wraps f only when `stats` asks.
"""
from autograd.tracer import isbox


class Counted:
    """f(z, θ, t) that counts its `evaluations` and, among them, the `vjps` (traced by autograd).
    `uncounted` is the f it wraps."""

    def __init__(self, f):
        self.uncounted = f
        self.evaluations = 0
        self.vjps = 0

    def __call__(self, z, theta, t):
        self.evaluations += 1
        if isbox(z) or isbox(theta) or isbox(t):
            self.vjps += 1
        return self.uncounted(z, theta, t)

    def take(self):
        """{"f_evals", "vjps"} counted since the last `take`, and the counters back to 0."""
        counts = {"f_evals": self.evaluations, "vjps": self.vjps}
        self.evaluations = self.vjps = 0
        return counts
