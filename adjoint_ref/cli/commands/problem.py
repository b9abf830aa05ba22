"""The --problem option of `check`, `equations` and `bench`: a built-in problem or the user's own file.

--problem NAME picks a problem of the zoo; --problem FILE.py calls FILE.py's problem(), and
--problem FILE.py:NAME its function NAME(), which must return an adjoint_ref.Problem. The file is
imported from its path (its folder on sys.path meanwhile, so it can import its neighbours), without
writing bytecode beside it. Anything wrong is an argparse error: one line, exit status 2.
"""
import argparse
import importlib.util
import os
import sys

from ...problems.problem import as_problem
from ...problems.zoo import ZOO, Entry
from .options import UsageError, non_negative_int, number, positive_int

DEFAULT = "mlp"
MLP_OPTIONS = ("hidden", "batch", "t1", "seed")  # the options that shape the default problem


def add_problem_option(parser, mlp_options=MLP_OPTIONS):
    """--problem, the zoo listed in the epilog, and those of the default MLP problem's options named in
    `mlp_options` (default None, so that `chosen_problem` can tell whether they were given)."""
    parser.add_argument("--problem", type=problem_entry, default=None, metavar="NAME|FILE.py[:FUNCTION]",
                        help=f"the problem: a built-in NAME (listed below; default {DEFAULT}), or your own file "
                             "FILE.py defining problem() that returns adjoint_ref.Problem(f, z0, theta, ts, loss) "
                             "(FILE.py:FUNCTION calls FUNCTION() instead)")
    helps = {"hidden": "hidden units of the MLP f (default 16)",
             "batch": "number of initial states solved together; 0 means one state of shape (2,) (default 4)",
             "t1": "last observation time, at most 1000 (the MLP's rates are of order 1); 5 equally spaced "
                   "times on [0, t1] (default 1.0)",
             "seed": "seed for parameters, z0 and targets (default 0)"}
    types = {"hidden": positive_int, "batch": non_negative_int, "seed": non_negative_int,
             "t1": number(float, lambda t: 0 < t <= 1000, "a number in (0, 1000]")}
    for name in mlp_options:
        parser.add_argument(f"--{name}", type=types[name], default=None, help=f"{DEFAULT} problem only: {helps[name]}")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "built-in problems (--problem NAME), with their RK4 steps per observation interval:\n" + "\n".join(
        f"  {name:<16} {entry.description} [{entry.n_steps} steps]" for name, entry in ZOO.items())


def chosen_problem(args, mlp_options=MLP_OPTIONS, **mlp_keywords):
    """(the Problem, its zoo Entry) that --problem and the MLP options (those of `mlp_options` the
    command has) ask for; `mlp_keywords` also go to the default MLP problem only. A UsageError if MLP
    options come with another problem."""
    entry = args.problem or ZOO[DEFAULT]
    given = {name: getattr(args, name) for name in mlp_options if getattr(args, name) is not None}
    if entry is ZOO[DEFAULT]:
        return entry.make(**given, **mlp_keywords), entry
    if given:
        raise UsageError(f"--{next(iter(given))} shapes the default problem ({DEFAULT}) only, not "
                         f"{entry.description}")
    return entry.make(), entry


def label(entry):
    """How a report names the problem: "NAME: description" for the zoo, the file and function otherwise."""
    names = [name for name, known in ZOO.items() if known is entry]
    return f"{names[0]}: {entry.description}" if names else entry.description


def problem_entry(text):
    """An argparse type: the zoo Entry named `text`, or an Entry for the Problem that FILE.py[:NAME] returns."""
    if text in ZOO:
        return ZOO[text]
    path, name = _file_and_function(text)
    problem = as_problem_or_error(_load(path, name)(), f"{path}:{name}()")
    return Entry(lambda: problem, None, None, f"{path}:{name}()")


def _file_and_function(text):
    """(path, function name) from FILE.py or FILE.py:NAME; an error naming the built-in problems otherwise."""
    path, colon, name = text.rpartition(":")
    if not (colon and path.endswith(".py") and name.isidentifier()):
        path, name = text, "problem"
    if not path.endswith(".py"):
        raise argparse.ArgumentTypeError(f"{text!r} is neither a built-in problem ({', '.join(ZOO)}) nor a "
                                         "FILE.py[:FUNCTION]")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"no file {path}")
    return path, name


def _load(path, name):
    """The function `name` of the Python file at `path`, imported without writing bytecode beside it."""
    spec = importlib.util.spec_from_file_location(f"adjoint_ref_problem_{abs(hash(os.path.abspath(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise argparse.ArgumentTypeError(f"{path}, line {err.lineno}: {err.msg}") from None
    except Exception as err:  # the user's file may raise anything while importing
        raise argparse.ArgumentTypeError(f"importing {path} raised {type(err).__name__}: {err}") from None
    finally:
        sys.path.remove(os.path.dirname(os.path.abspath(path)))
        sys.dont_write_bytecode = saved
    function = getattr(module, name, None)
    if not callable(function):
        raise argparse.ArgumentTypeError(f"{path} defines no function {name}()")
    return _reporting(function, f"{path}:{name}()")


def _reporting(function, source):
    """function, whose exceptions become argparse errors naming `source`."""
    def call():
        try:
            return function()
        except Exception as err:  # the user's function may raise anything
            raise argparse.ArgumentTypeError(f"{source} raised {type(err).__name__}: {err}") from None
    return call


def as_problem_or_error(value, source):
    """`problem.as_problem`, its TypeError or ValueError turned into an argparse error."""
    try:
        return as_problem(value, source)
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
