"""The grading process that `sandbox.grade` starts: it runs the learner's code, and nothing else does.

Started as `python -c BOOT ROOT N PATH SEED FIRST` (see `sandbox.command`; FIRST 1: stop after the
first case that does not pass), it reads a one-line token from
stdin and writes its reports to stdout as lines "token {json}": {"cases": labels}, then
{"cannot": why} or, per case, {"start": i} and {"verdict": i, "status": …, "text": …}, and finally
{"done": true}. Everything the learner's code prints goes to stderr instead (which the sandbox shows,
marked). The learner's file is compiled from its source text, and its other files are imported with
bytecode neither read nor written (`fresh_imports`), so an edit is always seen and nothing is left
beside the files. The package is checked, and restored, after the import and after every case. Before
the learner's file is imported, the package functions that answer the exercise are made to refuse to
run for the learner's code (`block_shortcuts`, `_guard.block`).
"""
import json
import os
import sys
import tempfile
import types

import numpy as np

from .._impl import fast_vjp
from . import EXERCISES
from ._common import COMPARISONS, PATCHED, NotDone, Wrong, closeness, raised
from ._guard import LEARNER, SHORTCUTS, block, shortcut_message


def fresh_imports(token):
    """From now on, import every module from its source: write no bytecode, and look for cached
    bytecode only in a folder that does not exist (`sys.pycache_prefix`), never in a __pycache__."""
    sys.dont_write_bytecode = True
    sys.pycache_prefix = os.path.join(tempfile.gettempdir(), f"adjoint-ref-no-bytecode-{token}")


def load(path, name):
    """The function `name` defined in the Python file at `path`, compiled from its text just now.

    Raises Wrong with a readable message if the file is missing, does not run (SystemExit and
    KeyboardInterrupt included), or lacks `name`.
    """
    if not os.path.isfile(path):
        raise Wrong(f"no file {path}")
    with open(path, "rb") as source:
        text = source.read()
    module = types.ModuleType("__learner__")  # a name no file of the learner's can shadow
    module.__file__ = path
    sys.modules[module.__name__] = module  # for dataclasses, pickle and the like
    LEARNER[0] += 1
    try:
        exec(compile(text, path, "exec", dont_inherit=True), module.__dict__)
    except SyntaxError as err:
        raise Wrong(f"{path}, line {err.lineno}: {err.msg}" if err.lineno else
                    f"{path}: not Python source ({err.msg})") from None
    except BaseException as err:  # the learner's file may raise anything while it runs, even SystemExit
        raise Wrong(f"importing {path} {shortcut_message() or raised(err)}") from None
    finally:
        LEARNER[0] -= 1
    if SHORTCUTS:
        raise Wrong(f"importing {path}: {shortcut_message()}")
    fn = module.__dict__.get(name)
    if not callable(fn):
        raise Wrong(f"{path} does not define a function {name}")
    return fn


def block_shortcuts(number, module):
    """Make the package functions that answer exercise `number` (its BLOCKED, and its reference answer
    in solutions/) refuse to run for the learner's code, in this process."""
    own = f"adjoint_ref.exercises.solutions.{module.__name__.rsplit('.', 1)[1]}.{module.FUNCTION}"
    block(tuple(getattr(module, "BLOCKED", ())) + (own,), getattr(module, "ALLOWED", ""))


def package_state():
    """Every adjoint_ref module and each of its attributes, as objects: what the grader computes its
    references with, and the learner's code must leave as it is."""
    modules = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "adjoint_ref"}
    return modules, {(name, attr): value for name, module in modules.items() for attr, value in vars(module).items()}


def restore(state):
    """Put back whatever the learner's code replaced in the package since `state`; the names, as 'module.attr'."""
    modules, attributes = state
    changed = [name for name, module in modules.items() if sys.modules.get(name) is not module]
    sys.modules.update(modules)
    for (name, attr), value in attributes.items():
        if getattr(modules[name], attr, restore) is not value:
            changed.append(f"{name}.{attr}")
            setattr(modules[name], attr, value)
    return changed


def patched(changed):
    """The message for a learner whose code replaced the package's names `changed`."""
    return (f"{PATCHED}: your code replaced {', '.join(changed)}; the grader computes its references with the "
            "package as it is: call your own functions instead of assigning them to the package's names")


def grade(case, fn, state):
    """(status, text) for one case: status "pass", "not done" or "fail"; a pass says how close it came.

    A case in which the learner's code replaced part of the package (`state`) fails, whatever it
    gave, and the package is restored."""
    del COMPARISONS[:]
    try:
        note = case.grade(fn)
    except NotDone as err:
        status, text = "not done", f"not done yet: {err}"
    except Wrong as err:
        status, text = "fail", f"FAIL: {err}"
    else:
        details = "; ".join(part for part in (closeness(), note) if part)
        status, text = "pass", f"pass ({details})" if details else "pass"
    changed = restore(state)
    return ("fail", f"FAIL: {patched(changed)}") if changed else (status, text)


def main(argv):
    """Grade the file argv[1] on exercise argv[0] with the cases of seed argv[2] (up to the first failure
    if argv[3] is "1"); report on stdout."""
    number, path, seed = int(argv[0]), argv[1], int(argv[2])
    first_failure = len(argv) > 3 and argv[3] == "1"
    token = sys.stdin.readline().strip()
    report, sys.stdout = sys.stdout, sys.stderr

    def send(**message):
        report.write(f"{token} {json.dumps(message)}\n")
        report.flush()

    module = EXERCISES[number]
    cases = module.cases(np.random.default_rng([seed, number]))
    send(cases=[case.label for case in cases])
    fresh_imports(token)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # the learner's other files
    block_shortcuts(number, module)
    fast_vjp.REPLAY = False  # the package's own stages trace f each time, so every evaluation is counted
    state = package_state()
    try:
        fn = load(path, module.FUNCTION)
        changed = restore(state)
        if changed:
            raise Wrong(f"importing {path}: {patched(changed)}")
    except Wrong as err:
        send(cannot=str(err))
    else:
        for i, case in enumerate(cases):
            send(start=i)
            status, text = grade(case, fn, state)
            send(verdict=i, status=status, text=text)
            if first_failure and status != "pass":
                break
        send(done=True)
    sys.stderr.flush()
    os._exit(0)  # now: no atexit handler or thread the learner left behind runs
