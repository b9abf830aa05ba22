"""`adjoint-ref check`: every gradient method on one problem, compared with backprop (`check.check`)."""
import argparse

from ...api import DEFAULT_N_STEPS
from ...diagnostics.check import CHECK_METHODS, QUANTITIES, check
from ..._impl.memory import check_backprop_memory, check_sensitivity_memory
from ..._impl.validate import PlainNumpyError
from ...problems.models import observing_t0
from .options import UsageError, check_memory, positive_float, positive_int, steps_from_size
from .problem import add_problem_option, blamed_on, checked_loss, chosen_problem, label
from .progress import Progress, add_quiet_option

HELP = "compare every gradient method with backprop on a problem (built-in or your own) and say why they differ"


def _methods(text):
    """An argparse type: comma-separated names from CHECK_METHODS."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CHECK_METHODS]
    if unknown or len(set(names)) < 2:
        raise argparse.ArgumentTypeError(f"must name at least two of {', '.join(CHECK_METHODS)}, separated by "
                                         f"commas; got {text!r}")
    return names


def _wrt(text):
    """An argparse type: comma-separated quantities from z0, theta, ts."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or any(name not in QUANTITIES for name in names):
        raise argparse.ArgumentTypeError(f"must name one or more of {', '.join(QUANTITIES)}, separated by commas; "
                                         f"got {text!r}")
    return names


def _checkpoints(text):
    """An argparse type: "auto" or a positive number of checkpoints per interval."""
    return text if text == "auto" else positive_int(text)


def add_arguments(parser):
    """The options of `adjoint-ref check`: the problem, steps, tolerance, methods and checkpoints."""
    add_problem_option(parser)
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--steps", type=positive_int, default=None,
                       help="RK4 steps PER OBSERVATION INTERVAL, so n_steps × (number of times − 1) in all "
                            f"(default: the problem's, listed below; {DEFAULT_N_STEPS} for a file); the "
                            "continuous adjoint's gap to backprop shrinks like steps⁻⁴")
    steps.add_argument("--step-size", type=positive_float, default=None, metavar="H",
                       help="the longest RK4 step instead of --steps: each observation interval Δt gets ⌈Δt / H⌉ "
                            "equal steps (for irregular observation times)")
    parser.add_argument("--tol", type=positive_float, default=1e-6,
                        help="largest accepted relative difference from backprop (default 1e-6)")
    parser.add_argument("--methods", type=_methods, default=None,
                        help=f"comma-separated methods to run, from {', '.join(CHECK_METHODS)} (default: all; "
                             "finite differences and forward sensitivities are skipped, with a note, when "
                             "estimated above 10 s)")
    parser.add_argument("--checkpoints", type=_checkpoints, default=None,
                        help="how the adjoint runs: K checkpoints per interval, or auto (checkpoints only if its "
                             "backward z drifts); default: the problem's (none, or auto where listed)")
    parser.add_argument("--observe-t0", action="store_true",
                        help="add ½‖z(t0)‖² to the loss, so that it observes z(t0) too (λ then jumps at t0)")
    parser.add_argument("--wrt", type=_wrt, default=None,
                        help="comma-separated gradients to compare, from z0, theta, ts (default: all); each may "
                             "differ by --tol relative, or by --tol times the largest compared gradient, absolute")
    parser.add_argument("--solver", choices=("rk4", "dopri5"), default="rk4",
                        help="rk4 (default; --steps) or dopri5 (adaptive; --rtol, --atol): dopri5 compares "
                             "backprop, adjoint and finite_differences")
    parser.add_argument("--rtol", type=positive_float, default=None, help="dopri5's relative tolerance (default 1e-7)")
    parser.add_argument("--atol", type=positive_float, default=None, help="dopri5's absolute tolerance (default 1e-9)")
    parser.add_argument("--repeat", type=positive_int, default=1,
                        help="time each method this many times and report the fastest (default 1)")
    add_quiet_option(parser)


def run(args):
    """Print the report of `check.check` on the chosen problem; exit status 1 if a difference is above --tol."""
    problem, entry = chosen_problem(args)
    if args.observe_t0:
        problem = observing_t0(problem)
    checkpoints = entry.checkpoints if args.checkpoints is None else args.checkpoints
    n_steps = args.steps or entry.n_steps or DEFAULT_N_STEPS
    setting = f"--steps {n_steps}"
    if args.solver == "dopri5":  # the zoo's steps and checkpoints are RK4's
        given = [name for name in ("steps", "step_size", "checkpoints") if getattr(args, name) is not None]
        if given:
            raise UsageError(f"--{given[0].replace('_', '-')} applies to --solver rk4; dopri5 takes --rtol and --atol")
        n_steps = checkpoints = None
    elif args.rtol is not None or args.atol is not None:
        raise UsageError("--rtol and --atol apply to --solver dopri5; rk4 takes --steps or --step-size")
    elif args.step_size is not None:
        n_steps, setting = steps_from_size(args.step_size, problem.ts), f"--step-size {args.step_size:g}"
    try:
        report = _checked(problem, entry, args, n_steps, checkpoints, setting)
    except PlainNumpyError as err:  # the user's f, not a bug here: one line
        raise UsageError(f"{label(entry)}: {err}") from None
    print(report)
    return 0 if report.ok else 1


def _checked(problem, entry, args, n_steps, checkpoints, setting):
    """The memory guards, the loss tried once on a forward solve (`checked_loss`), then `check.check`'s
    report, with progress unless --quiet."""
    if args.solver == "rk4" and (args.methods is None or "backprop" in args.methods):
        check_memory(lambda: check_backprop_memory(problem.f, problem.z0, problem.theta, problem.ts, n_steps),
                     f"{setting} on {label(entry).split(':')[0]} (for backprop; --methods without backprop "
                     "runs the others)")
    if args.methods is not None and "forward_sensitivity" in args.methods:
        check_memory(lambda: check_sensitivity_memory(problem.z0, problem.theta, problem.ts),
                     f"--methods forward_sensitivity on {label(entry).split(':')[0]}")
    if args.solver == "rk4":
        checked_loss(problem, entry, n_steps)
    print(f"adjoint-ref check: {label(entry)}" + (", loss + ½‖z(t0)‖²" if args.observe_t0 else ""))
    with Progress(args.quiet) as progress, blamed_on(entry):
        return check(problem.loss, problem.f, problem.z0, problem.theta, problem.ts, n_steps, args.tol,
                     args.methods, checkpoints, args.repeat, progress, wrt=args.wrt, solver=args.solver,
                     rtol=args.rtol, atol=args.atol)
