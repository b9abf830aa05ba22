"""`adjoint-ref check`: the table of relative differences between the three gradient methods."""
from ..check import PAIRS, SHORT, compare
from ..memory import check_backprop_memory
from ..models import default_problem
from ..tree import ravel_tree
from .options import check_memory, non_negative_int, number, positive_float, positive_int

HELP = "compare adjoint, backprop and finite-difference gradients on the default problem"


def add_arguments(parser):
    """The options of `adjoint-ref check`: the default problem's size and seed, steps, tolerance."""
    parser.add_argument("--steps", type=positive_int, default=10,
                        help="RK4 steps per observation interval (default 10); the adjoint–backprop "
                             "gap shrinks like steps⁻⁴")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed for parameters, z0 and targets (default 0)")
    parser.add_argument("--hidden", type=positive_int, default=16, help="hidden units of the MLP f (default 16)")
    parser.add_argument("--batch", type=non_negative_int, default=4,
                        help="number of initial states solved together; 0 means one state of shape (2,) "
                             "(default 4)")
    parser.add_argument("--t1", default=1.0, type=number(float, lambda t: 0 < t <= 1000, "a number in (0, 1000]"),
                        help="last observation time, at most 1000 (the MLP's rates are of order 1); 5 equally "
                             "spaced times on [0, t1] (default 1.0)")
    parser.add_argument("--tol", type=positive_float, default=1e-6,
                        help="largest accepted relative difference between two methods (default 1e-6)")
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="time each method this many times and report the fastest (default 3)")


def run(args):
    """Print the differences for dL/dz0, dL/dθ, dL/dts and each method's time; 1 if any is above --tol."""
    problem = default_problem(hidden=args.hidden, batch=args.batch, t1=args.t1, seed=args.seed)
    check_memory(lambda: check_backprop_memory(problem.f, problem.z0, problem.theta, problem.ts, args.steps),
                 f"--steps {args.steps} with --batch {args.batch} and --hidden {args.hidden} (for backprop)")
    print(f"adjoint-ref check: tanh-MLP Neural ODE, z0 shape {problem.z0.shape}, "
          f"{ravel_tree(problem.theta).size} parameters, {len(problem.ts)} observation times on "
          f"[0, {args.t1:g}], {args.steps} RK4 steps per interval, seed {args.seed}")
    diffs, times = compare(problem, args.steps, args.repeat)
    print(f"\nrelative difference ‖a − b‖ / max(‖a‖, ‖b‖), tolerance {args.tol:.0e}")
    print(f"{'gradient':<8}" + "".join(f"{SHORT[a] + ' vs ' + SHORT[b]:>24}" for a, b in PAIRS))
    failed = 0
    for q, label in (("z0", "dL/dz0"), ("theta", "dL/dθ"), ("ts", "dL/dts")):
        cells = []
        for pair in PAIRS:
            ok = diffs[q, pair] <= args.tol
            failed += not ok
            cells.append(f"{diffs[q, pair]:.2e} {'ok' if ok else 'FAIL':>4}")
        print(f"{label:<8}" + "".join(f"{cell:>24}" for cell in cells))
    print(f"\n{'method':<20}{'time per gradient':>20}{'vs adjoint':>12}")
    for method, seconds in times.items():
        print(f"{method:<20}{seconds * 1e3:>17.1f} ms{seconds / times['adjoint']:>11.2f}x")
    if failed:
        print(f"\nFAIL: {failed} difference(s) above {args.tol:.0e}. The adjoint–backprop gap shrinks "
              "like h⁴: more --steps reduces it.")
        return 1
    print("\nall differences within tolerance")
    return 0
