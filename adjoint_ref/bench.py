"""`adjoint-ref bench`: what one backward RK4 stage of the adjoint costs, in CPU microseconds.

Timings are CPU time of this process (time.process_time), the minimum over interleaved rounds, so
other programs on a shared machine disturb them less than wall-clock time; they still vary by
machine and load, so compare numbers from one run.
"""
import time

import numpy as np

from ._checks import ravel_tree
from .adjoint import augmented_dynamics
from .models import default_problem, mlp_dynamics, mlp_formula


def cpu_seconds(calls, number, rounds):
    """{name: CPU seconds per call} for the zero-argument callables `calls`, each called `number`
    times per round; rounds interleave the callables and the fastest round counts."""
    best = dict.fromkeys(calls, np.inf)
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.process_time()
            for _ in range(number):
                call()
            best[name] = min(best[name], (time.process_time() - start) / number)
    return best


def stage_calls(problem, t=0.5, seed=0):
    """Zero-argument callables for f alone and for one backward stage on `problem`, both with the
    default MLP's hand-written VJP and with autograd tracing its formula (as for a user's own f)."""
    rng = np.random.default_rng(seed)
    z, theta = problem.z0, problem.theta
    s = np.concatenate([np.ravel(z), rng.normal(size=z.size), np.zeros(ravel_tree(theta).size), [0.0]])
    traced = augmented_dynamics(mlp_formula, z.shape)
    by_hand = augmented_dynamics(mlp_dynamics, z.shape)
    return {"f(z, θ, t) alone": lambda: mlp_dynamics(z, theta, t),
            "backward stage, f traced by autograd (mlp_formula)": lambda: traced(s, theta, t),
            "backward stage, f with hand-written VJP (mlp_dynamics)": lambda: by_hand(s, theta, t)}


def print_stages(quick, log=print):
    """Print the CPU microseconds per call of each entry of `stage_calls` on the default problem."""
    problem = default_problem()
    times = cpu_seconds(stage_calls(problem), number=20 if quick else 200, rounds=3 if quick else 20)
    log(f"backward stage on the default problem (z0 {problem.z0.shape}, "
        f"{ravel_tree(problem.theta).size} parameters), CPU µs per call, best of interleaved rounds:")
    for name, seconds in times.items():
        log(f"  {name:<60}{seconds * 1e6:>9.1f} µs")


def run(args):
    """Run the benchmark described by `args`; return the exit status."""
    print_stages(args.quick)
    return 0
