"""The `adjoint-ref` command line: one subcommand per module of `commands`, assembled here.

Errors are reported here, in one place. A user's mistake is one line on stderr and exit status 2:
a value refused while parsing (argparse, by the argument types of `commands.options`), a
`commands.options.UsageError` raised by a command before it starts working, a `MemoryLimitError`,
or an output another run took meanwhile (`files.OutputTaken`). An output that cannot be written (a
full disk, a file-size limit: `files.WriteError`) is one line and exit status 1. Ctrl-C is one line
and exit status 130; SIGTERM and SIGHUP are handled the same way (`streams`), with 143 and 129. The
streams are guarded (`streams.guarded`): a closed stdout drops the output, not the run, and a
terminal that cannot show the symbols gets them in ASCII. Any other exception is a bug and keeps its
traceback; --traceback shows the traceback of the others as well.
"""
import argparse
import signal
import sys

from .. import __version__
from .._impl.files import OutputTaken, WriteError
from .._impl.memory import MemoryLimitError
from . import commands, streams
from .commands.options import Terminated, UsageError

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
    name = argv[0] if argv[0] in COMMANDS else "check"
    with streams.guarded(), streams.signals_as_interrupts(Terminated):
        try:
            args = build_parser().parse_args(argv)  # may import a user's --problem file
            return COMMANDS[args.command].run(args)
        except (UsageError, MemoryLimitError, OutputTaken) as err:
            if "--traceback" in argv:
                raise
            print(f"adjoint-ref {name}: error: {err}", file=sys.stderr)
            return 2
        except WriteError as err:  # the environment's, not the user's: a full disk, a file-size limit
            if "--traceback" in argv:
                raise
            print(f"adjoint-ref {name}: error: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as err:
            if "--traceback" in argv:
                raise
            print(f"adjoint-ref {name}: {str(err) or 'interrupted'}", file=sys.stderr)
            return 128 + getattr(err, "signum", signal.SIGINT)
