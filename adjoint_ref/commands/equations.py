"""`adjoint-ref equations`: one row per equation of the derivation, with its residual and tolerance."""
import argparse
import sys

from ..equations import MIN_ORDER, RATE, ROUND_OFF, checked_rows, longest_step, passed, table
from ..lagrangian import grid_steps
from ..models import default_problem
from ..tree import ravel_tree
from .options import non_negative_int, positive_int

HELP = "check eqs. (1)–(12) of the derivation and the time gradients, one row per equation"


def _grid_steps(text):
    """An argparse type: steps per interval as `lagrangian.grid_steps` accepts them (even, ≥ 4)."""
    try:
        return grid_steps(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_arguments(parser):
    """The options of `adjoint-ref equations`: RK4 steps, seed and hidden size of the default problem."""
    parser.add_argument("--steps", type=_grid_steps, default=10,
                        help="RK4 steps per observation interval, even and ≥ 4 (Simpson's rule and "
                             "five-point differences on the RK4 grid; default 10); residuals shrink like steps⁻⁴")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed for parameters, z0, targets and the arbitrary λ(t) (default 0)")
    parser.add_argument("--hidden", type=positive_int, default=16, help="hidden units of the MLP f (default 16)")


def _progress(text):
    print(f"  ... {text}", file=sys.stderr, flush=True)


def run(args):
    """Print the table of `equations.checked_rows` on the default problem; 1 if a row is above tolerance."""
    problem = default_problem(hidden=args.hidden, seed=args.seed)
    print(f"adjoint-ref equations: tanh-MLP Neural ODE, z0 shape {problem.z0.shape}, "
          f"{ravel_tree(problem.theta).size} parameters, observation times {problem.ts}, "
          f"{args.steps} RK4 steps per interval, seed {args.seed}")
    rows = checked_rows(problem, args.steps, args.seed, log=_progress)
    print(f"\nsides: numbers, or norms for vectors (side b = 0 for a quantity that must vanish);\n"
          f"residual: ‖a − b‖ / max(‖a‖, ‖b‖), or ‖a‖ / (the norm named after 'vs');\n"
          f"tolerance: (ω h)⁴ = ({RATE:g} × {longest_step(problem.ts, args.steps):g})⁴ for O(h⁴) rows, "
          f"{ROUND_OFF:g} for round-off;\n"
          f"r(h/2), order: the residual again at half the step, and log₂(r(h) / r(h/2)), which must be at "
          f"least {MIN_ORDER:g} (order 4 expected) unless r(h) is at the round-off floor\n")
    print(table(rows))
    failed = sum(not passed(row) for row in rows)
    print("\nThe 'comment' row: the formula in the comment thread under the post gives −dL/dt0. It computes "
          "λ(t0)·f(z0, θ, t0) = H(t0),\nwhat L gains when z0 is advanced along the flow (the solution "
          "started earlier); moving t0 later with z0 fixed does the opposite.")
    if failed:
        print(f"\nFAIL: {failed} row(s) above tolerance")
        return 1
    print(f"\nall {len(rows)} rows within tolerance")
    return 0
