"""The `adjoint-ref` command line: one subcommand per module of `commands`, assembled here.

Errors are reported here, in one place. A user's mistake is one line on stderr and exit status 2:
a value refused while parsing (argparse, by the argument types of `commands.options`) or a
`commands.options.UsageError` raised by a command before it starts working. Ctrl-C is one line and
exit status 130. Any other exception is a bug and keeps its traceback; --traceback shows the
traceback of the first two as well.
"""
import argparse
import sys

from .. import __version__
from . import commands
from .commands.options import UsageError

# The command modules by name. They are not bound as names of this package, where `figures` and
# `train` are the modules cli/figures.py and cli/train.py.
COMMANDS = {name: getattr(commands, name) for name in ("check", "equations", "train", "figures", "bench", "exercise")}


def build_parser():
    """The argument parser with one subparser per command module (its HELP, add_arguments), each
    with --traceback."""
    parser = argparse.ArgumentParser(
        prog="adjoint-ref",
        description="Reference implementation of the adjoint method for Neural ODEs. "
                    "Without a subcommand, runs `check`.")
    parser.add_argument("--version", action="version", version=f"adjoint-ref {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.add_argument("--traceback", action="store_true",
                             help="on an error or Ctrl-C, show Python's traceback instead of one line")
    return parser


def main(argv=None):
    """Entry point of `adjoint-ref` and `python -m adjoint_ref`; returns the exit status.

    With no words, or options first (other than -h/--help and --version), it runs `check` with those options.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["check"] + argv
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except UsageError as err:
        if args.traceback:
            raise
        print(f"adjoint-ref {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        if args.traceback:
            raise
        print(f"adjoint-ref {args.command}: {str(err) or 'interrupted'}", file=sys.stderr)
        return 130
