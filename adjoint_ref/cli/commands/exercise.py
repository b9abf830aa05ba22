"""`adjoint-ref exercise list | show N | start N [DIR] | check N PATH`: the graded exercises."""
import argparse

from ... import exercises
from .options import UsageError, non_negative_int, positive_float

HELP = "graded exercises along the derivation: list, show N, start N [DIR], check N PATH"
NUMBERS = f"exercise number (1–{len(exercises.EXERCISES)})"


def _exercise_number(text):
    """An argparse type: the number of an existing exercise."""
    value = int(text)
    if value not in exercises.EXERCISES:
        raise argparse.ArgumentTypeError(f"must be an exercise number from 1 to {len(exercises.EXERCISES)}, "
                                         f"got {text}")
    return value


def add_arguments(parser):
    """The actions of `adjoint-ref exercise`, each a subparser: list, show, start, check."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="show every exercise with a one-line summary",
                       description="show every exercise with a one-line summary")
    show = actions.add_parser("show", help="print the statement and hints of exercise N",
                              description="print the statement and hints of exercise N")
    show.add_argument("number", type=_exercise_number, metavar="N", help=NUMBERS)
    start = actions.add_parser("start", help="write the skeleton file of exercise N into DIR",
                               description="write the skeleton file of exercise N into DIR (exercise 8 "
                                           "also gets exercise 4's, which it imports, unless it exists)")
    start.add_argument("number", type=_exercise_number, metavar="N", help=NUMBERS)
    start.add_argument("folder", nargs="?", default=".", metavar="DIR",
                       help="the folder to write it into (default .), created if needed; a path ending in "
                            "the exercise's own file name, e.g. sub/ex1_rk4_step.py, is taken as the file")
    start.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    check = actions.add_parser("check", help="grade your solution of exercise N in PATH",
                               description="grade your solution of exercise N in PATH, in a separate "
                                           "process: one line per random case; exit 0 if all pass, 1 otherwise")
    check.add_argument("number", type=_exercise_number, metavar="N", help=NUMBERS)
    check.add_argument("path", metavar="PATH", help="your Python file defining the exercise's function")
    check.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed for the random cases, a non-negative integer (default 0)")
    check.add_argument("--timeout", type=positive_float, default=exercises.sandbox.TIMEOUT,
                       help=f"seconds a case may run before it fails (default {exercises.sandbox.TIMEOUT:g})")


def run(args):
    """List the exercises, print a statement, write a skeleton, or grade a file; returns the exit status."""
    if args.action == "list":
        print("\n".join(exercises.listing()))
        return 0
    if args.action == "show":
        print(exercises.statement(args.number), end="")
        return 0
    if args.action == "start":
        try:
            written = exercises.start(args.number, args.folder, args.force)
        except (OSError, ValueError) as err:
            raise UsageError(err) from None
        also = (f" (and {written[1]}, exercise {exercises.NEEDS[args.number]}, which it imports)"
                if len(written) > 1 else "")
        print(f"wrote {written[0]}{also}; when it is done: adjoint-ref exercise check {args.number} {written[0]}")
        return 0
    return exercises.check(args.number, args.path, args.seed, args.timeout)
