"""The --problem option of `check`, `equations` and `bench`: a built-in problem or the user's own file.

--problem NAME picks a problem of the zoo; --problem FILE.py calls FILE.py's problem(), and
--problem FILE.py:NAME its function NAME(), which must return an adjoint_ref.Problem. The file is
imported from its path (its folder on sys.path meanwhile, so it can import its neighbours), without
writing bytecode beside it. Anything wrong is an argparse error: one line, exit status 2.
"""
import argparse
import contextlib
import importlib.util
import os
import sys

from ..._impl.memory import check_need
from ..._impl.validate import check_loss_value
from ...rk4 import integrate
from ...problems.models import default_problem_bytes
from ...problems.problem import as_problem
from ...problems.zoo import ZOO, Entry
from .options import UsageError, check_memory, non_negative_int, number, positive_int

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
        size = {name: given[name] for name in ("hidden", "batch") if name in given}
        check_memory(lambda: check_need(default_problem_bytes(**size), f"the {DEFAULT} problem",
                                        "its parameters, states and one evaluation of f", "Fewer units."),
                     " ".join(f"--{name} {value}" for name, value in size.items()) or DEFAULT)
        return entry.make(**given, **mlp_keywords), entry
    if given:
        raise UsageError(f"--{next(iter(given))} shapes the default problem ({DEFAULT}) only, not "
                         f"{entry.description}")
    return entry.make(), entry


def is_file(entry):
    """True if `entry` is the user's --problem FILE.py, not a built-in problem."""
    return entry not in ZOO.values()


def checked_loss(problem, entry, n_steps):
    """For the user's problem file: one forward solve at n_steps and the loss on it, checked before the
    methods run, so that an f that overflows or a loss that is not one finite number is one line
    naming the file (a UsageError), not every method's failure."""
    if not is_file(entry):
        return
    with blamed_on(entry, f"at {n_steps} RK4 steps per interval, "):
        zs = integrate(problem.f, problem.z0, problem.theta, problem.ts, n_steps)
        try:
            check_loss_value(problem.loss(zs))
        except FloatingPointError as err:
            raise FloatingPointError(f"{err} on the forward solution: the loss, not a gradient method, is at "
                                     "fault") from None


@contextlib.contextmanager
def blamed_on(entry, where=""):
    """Inside, for the user's problem file, an error its functions cause (ArithmeticError, ValueError,
    TypeError: f overflowing, a loss returning an array, ...) is a UsageError naming the file, one line
    (--traceback shows where it was raised)."""
    if not is_file(entry):
        yield
        return
    try:
        yield
    except (ArithmeticError, ValueError, TypeError) as err:
        raise UsageError(f"{entry.description}: {where}{type(err).__name__}: {err}") from err


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
    """The function `name` of the Python file at `path`, imported without writing bytecode beside it.

    Whatever the import raises is an argparse error naming the file, SystemExit included (sys.exit(0)
    in the file must not pass for a successful check); Ctrl-C is a KeyboardInterrupt naming it. The
    current folder is put back if the file changes it."""
    spec = importlib.util.spec_from_file_location(f"adjoint_ref_problem_{abs(hash(os.path.abspath(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    saved, folder, cwd = sys.dont_write_bytecode, os.path.dirname(os.path.abspath(path)), os.getcwd()
    sys.dont_write_bytecode = True
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise argparse.ArgumentTypeError(f"{path}, line {err.lineno}: {err.msg}" if err.lineno else
                                          f"{path}: not Python source ({err.msg})") from None
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted while importing {path}") from None
    except (Exception, SystemExit) as err:  # the user's file may raise anything while importing
        raise argparse.ArgumentTypeError(f"importing {path} raised {_raised(err)}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
        sys.dont_write_bytecode = saved
        if os.getcwd() != cwd:
            os.chdir(cwd)
    function = getattr(module, name, None)
    if not callable(function):
        raise argparse.ArgumentTypeError(f"{path} defines no function {name}()")
    return _reporting(function, f"{path}:{name}()")


def _raised(err):
    """"ValueError: message", or "SystemExit (sys.exit(0))" for an exit."""
    if isinstance(err, SystemExit):
        return f"SystemExit (sys.exit({err.code!r})): a problem file must return, not exit"
    return f"{type(err).__name__}: {err}"


def _reporting(function, source):
    """function, whose exceptions (SystemExit included) become argparse errors naming `source`, and
    Ctrl-C a KeyboardInterrupt naming it."""
    def call():
        try:
            return function()
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"interrupted in {source}") from None
        except (Exception, SystemExit) as err:  # the user's function may raise anything
            raise argparse.ArgumentTypeError(f"{source} raised {_raised(err)}") from None
    return call


def as_problem_or_error(value, source):
    """`problem.as_problem`, its TypeError or ValueError turned into an argparse error."""
    try:
        return as_problem(value, source)
    except (TypeError, ValueError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
