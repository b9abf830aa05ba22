"""`adjoint-ref exercise list | start N [DIR] | check N PATH`: the graded exercises."""
import argparse
import sys

from .. import exercises
from .options import non_negative_int

HELP = "graded exercises along the derivation: list, start N [DIR], check N PATH"


def _exercise_number(text):
    """An argparse type: the number of an existing exercise."""
    value = int(text)
    if value not in exercises.EXERCISES:
        raise argparse.ArgumentTypeError(f"must be an exercise number from 1 to {len(exercises.EXERCISES)}, "
                                         f"got {text}")
    return value


def add_arguments(parser):
    """The actions of `adjoint-ref exercise`, each a subparser: list, start, check."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="show every exercise with a one-line summary",
                       description="show every exercise with a one-line summary")
    start = actions.add_parser("start", help="write the skeleton file of exercise N into DIR",
                               description="write the skeleton file of exercise N into DIR")
    start.add_argument("number", type=_exercise_number, metavar="N", help=f"exercise number (1–{len(exercises.EXERCISES)})")
    start.add_argument("folder", nargs="?", default=".", metavar="DIR", help="where to write it (default .)")
    start.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    check = actions.add_parser("check", help="grade your solution of exercise N in PATH",
                               description="grade your solution of exercise N in PATH: one line per "
                                           "random case; exit 0 if all pass, 1 otherwise")
    check.add_argument("number", type=_exercise_number, metavar="N", help=f"exercise number (1–{len(exercises.EXERCISES)})")
    check.add_argument("path", metavar="PATH", help="your Python file defining the exercise's function")
    check.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed for the random cases, a non-negative integer (default 0)")


def run(args):
    """List the exercises, write a skeleton, or grade a file; returns the exit status."""
    if args.action == "list":
        print("\n".join(exercises.listing()))
        return 0
    if args.action == "start":
        try:
            path = exercises.start(args.number, args.folder, args.force)
        except FileExistsError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"wrote {path}; when it is done: adjoint-ref exercise check {args.number} {path}")
        return 0
    return exercises.check(args.number, args.path, args.seed)
