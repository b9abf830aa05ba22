"""The `adjoint-ref` command line. Each subcommand is a module with `add_arguments` and `run`."""
import argparse
import sys


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text}")
    return value


def _add_check_arguments(parser):
    parser.add_argument("--steps", type=_positive_int, default=10,
                        help="RK4 steps per observation interval (default 10); the adjoint–backprop "
                             "gap shrinks like steps⁻⁴")
    parser.add_argument("--seed", type=int, default=0, help="seed for parameters, z0 and targets (default 0)")
    parser.add_argument("--hidden", type=_positive_int, default=16, help="hidden units of the MLP f (default 16)")
    parser.add_argument("--batch", type=_non_negative_int, default=4,
                        help="number of initial states solved together; 0 means one state of shape (2,) "
                             "(default 4)")
    parser.add_argument("--t1", type=_positive_float, default=1.0,
                        help="last observation time; 5 equally spaced times on [0, t1] (default 1.0)")
    parser.add_argument("--tol", type=_positive_float, default=1e-6,
                        help="largest accepted relative difference between two methods (default 1e-6)")
    parser.add_argument("--repeat", type=_positive_int, default=3,
                        help="time each method this many times and report the fastest (default 3)")


def _run_check(args):
    from . import check
    return check.run(args)


def _add_figures_arguments(parser):
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="figure file names to draw (default: all registered figures)")
    parser.add_argument("--out", default=None,
                        help="folder for the PNG files (default figures/, or figures_quick/ with --quick, "
                             "so quick drafts never replace the gallery)")
    parser.add_argument("--quick", action="store_true",
                        help="cheapest settings that still draw every element (for smoke tests)")


def _run_figures(args):
    from . import figures
    out = args.out or ("figures_quick" if args.quick else "figures")
    figures.render(args.names or None, out=out, quick=args.quick)
    return 0


def _exercise_number(text):
    value = int(text)
    if not 1 <= value <= 8:
        raise argparse.ArgumentTypeError(f"must be an exercise number from 1 to 8, got {text}")
    return value


def _add_exercise_arguments(parser):
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="show every exercise with a one-line summary",
                       description="show every exercise with a one-line summary")
    start = actions.add_parser("start", help="write the skeleton file of exercise N into DIR",
                               description="write the skeleton file of exercise N into DIR")
    start.add_argument("number", type=_exercise_number, metavar="N", help="exercise number (1–8)")
    start.add_argument("folder", nargs="?", default=".", metavar="DIR", help="where to write it (default .)")
    start.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    check = actions.add_parser("check", help="grade your solution of exercise N in PATH",
                               description="grade your solution of exercise N in PATH: one line per "
                                           "random case; exit 0 if all pass, 1 otherwise")
    check.add_argument("number", type=_exercise_number, metavar="N", help="exercise number (1–8)")
    check.add_argument("path", metavar="PATH", help="your Python file defining the exercise's function")
    check.add_argument("--seed", type=_non_negative_int, default=0,
                       help="seed for the random cases, a non-negative integer (default 0)")


def _run_exercise(args):
    from . import exercises
    return exercises.run(args)
def _grid_steps(text):
    from .lagrangian import grid_steps
    try:
        return grid_steps(int(text))
    except ValueError as err:  # the rule lives in lagrangian.grid_steps
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_equations_arguments(parser):
    parser.add_argument("--steps", type=_grid_steps, default=10,
                        help="RK4 steps per observation interval, even and ≥ 4 (Simpson's rule and "
                             "five-point differences on the RK4 grid; default 10); residuals shrink like steps⁻⁴")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for parameters, z0, targets and the arbitrary λ(t) (default 0)")
    parser.add_argument("--hidden", type=_positive_int, default=16, help="hidden units of the MLP f (default 16)")


def _run_equations(args):
    from . import equations
    return equations.run(args)
def _add_train_arguments(parser):
    parser.description = (
        "Fit a Neural ODE (an autonomous 2-H-2 tanh MLP) to a spiral: a damped pendulum observed at 300 "
        "times on [0, 15]. Each Adam iteration draws --batch random windows of --window consecutive "
        "observations, solves all windows from their first observation as one batch, and takes the "
        "gradient of their mean squared error (as torchdiffeq's demo does): short windows make each "
        "gradient cheap and avoid the poor local minima of fitting the whole spiral at once. The loss "
        "printed before and after is over all observed points (one solve from the first observation). "
        "Writes spiral_fit.png and theta.npz to --out.")
    parser.add_argument("--iters", type=_non_negative_int, default=1000,
                        help="Adam iterations (default 1000); 0 only evaluates and draws (with --load)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the initial θ, the observation noise and the windows (default 0)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--hidden", type=_positive_int, default=32, help="hidden units of the MLP (default 32)")
    size.add_argument("--load", metavar="NPZ",
                      help="start from parameters saved by an earlier run (its theta.npz) instead of a "
                           "random θ; the file fixes the hidden size")
    parser.add_argument("--method", choices=("adjoint", "backprop"), default="adjoint",
                        help="how dL/dθ is computed: the continuous adjoint (default) or backprop "
                             "through the RK4 steps, for comparison")
    parser.add_argument("--noise", type=_non_negative_float, default=0.02,
                        help="standard deviation of the Gaussian noise added to each observed coordinate "
                             "(default 0.02)")
    parser.add_argument("--batch", type=_positive_int, default=20, help="windows per iteration (default 20)")
    parser.add_argument("--window", type=_positive_int, default=20,
                        help="observation times per window, the first one included (default 20, "
                             "i.e. 0.95 time units, about a sixth of an oscillation period)")
    parser.add_argument("--steps", type=_positive_int, default=1,
                        help="RK4 steps per observation interval (0.05 time units; default 1)")
    parser.add_argument("--lr", type=_positive_float, default=0.005, help="Adam step size (default 0.005)")
    parser.add_argument("--every", type=_positive_int, default=100,
                        help="print a progress line every this many iterations (default 100)")
    parser.add_argument("--out", default="train_out",
                        help="folder for spiral_fit.png and theta.npz (default train_out/)")


def _run_train(args):
    from . import train
    return train.run(args)
def _add_bench_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="10 and 100 steps only (instead of 10 to 10000) and fewer timing rounds: a smoke "
                             "test in a few seconds")
    parser.add_argument("--stages", action="store_true",
                        help="only profile one backward stage (CPU µs per call) and exit")
    parser.add_argument("--out", default=None,
                        help="folder for memory_vs_steps.png, drawn from the measured rows (default figures/; "
                             "with --quick no figure is drawn unless --out is given, so a smoke test never "
                             "replaces the gallery's figure)")


def _run_bench(args):
    from . import bench
    return bench.run(args)


# name: (one-line help, add_arguments, run)
COMMANDS = {
    "check": ("compare adjoint, backprop and finite-difference gradients on the default problem",
              _add_check_arguments, _run_check),
    "figures": ("regenerate the figure gallery (PNG files in figures/)", _add_figures_arguments, _run_figures),
    "exercise": ("graded exercises along the derivation: list, start N [DIR], check N PATH",
                 _add_exercise_arguments, _run_exercise),
    "equations": ("check eqs. (1)–(12) of the derivation and the time gradients, one row per equation",
                  _add_equations_arguments, _run_equations),
    "train": ("fit a Neural ODE to a spiral with adjoint gradients and Adam", _add_train_arguments, _run_train),
    "bench": ("measure time, memory, f evaluations and VJPs per gradient for each method and step count",
              _add_bench_arguments, _run_bench),
}


def build_parser():
    """The argument parser with one subparser per entry of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="adjoint-ref",
        description="Reference implementation of the adjoint method for Neural ODEs. "
                    "Without a subcommand, runs `check`.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (summary, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=summary, description=summary))
    return parser


def main(argv=None):
    """Entry point of `adjoint-ref` and `python -m adjoint_ref`; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["check"] + argv
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command][2](args)
