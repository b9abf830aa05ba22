"""The `adjoint-ref` command line: one subcommand per module of `commands`, assembled here."""
import argparse
import sys

from . import __version__
from .commands import bench, check, equations, exercise, figures, train

COMMANDS = {module.__name__.rsplit(".", 1)[1]: module
            for module in (check, equations, train, figures, bench, exercise)}


def build_parser():
    """The argument parser with one subparser per command module (its HELP, add_arguments)."""
    parser = argparse.ArgumentParser(
        prog="adjoint-ref",
        description="Reference implementation of the adjoint method for Neural ODEs. "
                    "Without a subcommand, runs `check`.")
    parser.add_argument("--version", action="version", version=f"adjoint-ref {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv=None):
    """Entry point of `adjoint-ref` and `python -m adjoint_ref`; returns the exit status.

    With no words, or options first (other than -h/--help and --version), it runs `check` with those options.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["check"] + argv
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command].run(args)
