"""The `adjoint-ref` subcommands, one module each (the module's name is the command's name).

A command module holds HELP (its one-line summary), `add_arguments(parser)` and `run(args)`, which
returns the exit status. It parses and prints; the work is done by the library modules it calls.
"""
from . import bench, check, equations, exercise, figures, train  # noqa: F401  (cli.COMMANDS reads them)
