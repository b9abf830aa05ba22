"""`adjoint-ref equations`: one row per equation of the derivation, with its residual and tolerance."""
import argparse

from ...diagnostics.equations import (DOPRI5_ALLOWANCE, MIN_ORDER, RATE, ROUND_OFF, ZOO_TOL, checked_rows,
                                       longest_step, passed, table)
from ...lagrangian import grid_steps
from ..._impl.tree import ravel_tree
from .options import UsageError, non_negative_int, positive_float, steps_from_size
from .problem import add_problem_option, blamed_on, checked_loss, chosen_problem, label
from .progress import Progress, add_quiet_option

HELP = "check eqs. (1)–(12) of the derivation and the time gradients, one row per equation"
DEFAULT_STEPS = 10  # for a problem from a file
MLP_OPTIONS = ("hidden",)  # --seed also seeds the arbitrary λ(t), so it applies to every problem


def _grid_steps(text):
    """An argparse type: steps per interval as `lagrangian.grid_steps` accepts them (even, ≥ 4)."""
    try:
        return grid_steps(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def even_steps(step_size, ts):
    """--step-size as this command takes it: the one step count of every interval, ⌈Δt / H⌉ rounded up to an
    even number ≥ 4; a UsageError if the intervals would get different counts."""
    counts = {max(4, n + n % 2) for n in steps_from_size(step_size, ts)}
    if len(counts) > 1:
        raise UsageError(f"--step-size {step_size:g} gives the observation intervals different step counts "
                         f"({', '.join(map(str, sorted(counts)))}); `equations` needs one count on every interval "
                         "(its arrays hold one RK4 grid per interval): use --steps")
    return counts.pop()


def add_arguments(parser):
    """The options of `adjoint-ref equations`: the problem, RK4 steps, seed."""
    add_problem_option(parser, MLP_OPTIONS)
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--steps", type=_grid_steps, default=None,
                       help="RK4 steps per observation interval, even and ≥ 4 (Simpson's rule and five-point "
                            "differences on the RK4 grid; default: the problem's, listed below, or 10 for a file); "
                            "residuals shrink like steps⁻⁴")
    steps.add_argument("--step-size", type=positive_float, default=None, metavar="H",
                       help="the longest RK4 step instead of --steps: ⌈Δt / H⌉ steps, rounded up to an even number "
                            "≥ 4; the observation intervals must then get the same number (this table's arrays "
                            "hold the same grid on every interval)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed for the arbitrary λ(t), and for the mlp problem's parameters, z0 and targets "
                             "(default 0)")
    add_quiet_option(parser)


def run(args):
    """Print the table of `equations.checked_rows` on the chosen problem; 1 if a row is above tolerance."""
    problem, entry = chosen_problem(args, MLP_OPTIONS, seed=args.seed)
    steps = args.steps or entry.n_steps or DEFAULT_STEPS
    if args.step_size is not None:
        steps = even_steps(args.step_size, problem.ts)
    print(f"adjoint-ref equations: {label(entry)}; z0 shape {problem.z0.shape}, "
          f"{ravel_tree(problem.theta).size} parameters, observation times {problem.ts}, "
          f"{steps} RK4 steps per interval, seed {args.seed}")
    checked_loss(problem, entry, steps)
    with Progress(args.quiet) as progress, blamed_on(entry):
        rows = checked_rows(problem, steps, args.seed, log=progress.note)
    print(f"\nsides: numbers, or norms for vectors (side b = 0 for a quantity that must vanish);\n"
          f"residual: ‖a − b‖ / max(‖a‖, ‖b‖), or, for a quantity that must vanish, ‖a‖ / (the size named after 'relative to'); 'vs' compares sides a and b;\n"
          f"tolerance: (ω h)⁴ for O(h⁴) rows, h = {longest_step(problem.ts, steps):g}, ω = {RATE:g} or the largest "
          f"‖∂f/∂z‖ on the path if larger; "
          f"{ROUND_OFF:g} for round-off;\n"
          f"r(h/2), order: the residual again at half the step, and log₂(r(h) / r(h/2)), which must be at "
          f"least {MIN_ORDER:g} (order 4 expected) unless r(h) is at the round-off floor;\n"
          f"the last rows run once: backprop vs FD with a running cost (tolerance: 10 × their gap without it), "
          f"dopri5's adjoint (tolerance: {DOPRI5_ALLOWANCE} × rtol),\nthe drift monitor (threshold/drift ≤ 1 where "
          f"it must fire, no warning where it must not) and checkpoints='auto' (vs backprop, {ZOO_TOL:g})\n")
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
