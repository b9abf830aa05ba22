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
    parser.add_argument("--out", default="figures", help="folder for the PNG files (default figures/)")
    parser.add_argument("--quick", action="store_true",
                        help="cheapest settings that still draw every element (for smoke tests)")


def _run_figures(args):
    from . import figures
    figures.render(args.names or None, out=args.out, quick=args.quick)
    return 0


def _add_bench_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="10 and 100 steps only (instead of 10 to 10000) and fewer timing rounds: a smoke "
                             "test in a few seconds")
    parser.add_argument("--stages", action="store_true",
                        help="only profile one backward stage (CPU µs per call) and exit")
    parser.add_argument("--out", default="figures",
                        help="folder for memory_vs_steps.png, drawn from the measured rows (default figures/)")


def _run_bench(args):
    from . import bench
    return bench.run(args)


# name: (one-line help, add_arguments, run)
COMMANDS = {
    "check": ("compare adjoint, backprop and finite-difference gradients on the default problem",
              _add_check_arguments, _run_check),
    "figures": ("regenerate the figure gallery (PNG files in figures/)", _add_figures_arguments, _run_figures),
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
