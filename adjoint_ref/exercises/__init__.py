"""Graded exercises along the derivation: listing, skeletons and grading (`adjoint-ref exercise`).

Each exercise is a module `exN_<function>.py` here with TITLE, EQUATIONS, SUMMARY, FUNCTION (the name
the learner writes), SKELETON (the learner's starting file below its header) and `cases(rng)`, the
graded cases; `solutions/exN_<function>.py` holds the reference answer. Statements and hints are in
derivation/exercises.md.
"""
import importlib.util
import numbers
import os
import sys

import numpy as np

from . import (ex1_rk4_step, ex2_vjps, ex3_augmented_dynamics, ex4_backward_pass, ex5_dL_dt0, ex6_eq10_terms,
               ex7_discrete_adjoint, ex8_observations, ex9_step_multipliers, ex10_running_cost)
from ._common import NotDone, Wrong

EXERCISES = {number: module for number, module in enumerate(
    (ex1_rk4_step, ex2_vjps, ex3_augmented_dynamics, ex4_backward_pass, ex5_dL_dt0, ex6_eq10_terms,
     ex7_discrete_adjoint, ex8_observations, ex9_step_multipliers, ex10_running_cost), start=1)}


def exercise(number):
    """The module of exercise `number`; ValueError if there is none."""
    if number not in EXERCISES:
        raise ValueError(f"number must be one of 1–{len(EXERCISES)}, got {number!r}")
    return EXERCISES[number]


def file_name(number):
    """The learner's file name for exercise `number`, e.g. 'ex1_rk4_step.py'."""
    return exercise(number).__name__.rsplit(".", 1)[1] + ".py"


def solution_path(number):
    """The path of the reference answer to exercise `number`."""
    return os.path.join(os.path.dirname(__file__), "solutions", file_name(number))


def listing():
    """One line per exercise: number, title, equations, function and summary."""
    return [f"{n}. {m.TITLE}, {m.EQUATIONS}. {m.FUNCTION}: {m.SUMMARY}" for n, m in EXERCISES.items()]


def skeleton(number):
    """The text of the learner's starting file: a header, imports, and the function left to write."""
    module = exercise(number)
    header = (f'"""Exercise {number}: {module.TITLE}, {module.EQUATIONS}.\n\n'
              f"Statement and hints: derivation/exercises.md, exercise {number}. Write the body of\n"
              f"{module.FUNCTION} (replace the raise), then grade it with\n\n"
              f"    adjoint-ref exercise check {number} {file_name(number)}\n"
              '"""\n')
    return header + module.SKELETON


def start(number, folder=".", force=False):
    """Write the skeleton of exercise `number` into `folder`; return its path.

    Refuses (FileExistsError) to overwrite an existing file unless `force`.
    """
    path = os.path.join(folder, file_name(number))
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path} exists already; pass --force to overwrite it")
    os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write(skeleton(number))
    return path


def load(path, name):
    """The function `name` defined in the Python file at `path`, imported by path.

    Raises Wrong with a readable message if the file is missing, does not import, or lacks `name`.
    """
    if not os.path.isfile(path):
        raise Wrong(f"no file {path}")
    spec = importlib.util.spec_from_file_location(f"adjoint_ref_exercise_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # so it can import the learner's other files
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise Wrong(f"{path}, line {err.lineno}: {err.msg}") from None
    except Exception as err:  # the learner's file may raise anything while importing
        raise Wrong(f"importing {path} raised {type(err).__name__}: {err}") from None
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise Wrong(f"{path} does not define a function {name}")
    return fn


def grade(case, fn):
    """'pass' (with the case's note, if any), 'not done yet …' or 'FAIL: …' for one case."""
    try:
        note = case.grade(fn)
    except NotDone:
        return f"not done yet ({fn.__name__} raises NotImplementedError)"
    except Wrong as err:
        return f"FAIL: {err}"
    return f"pass ({note})" if note else "pass"


def check(number, path, seed=0):
    """Grade the learner's file `path` on exercise `number`, printing one line per case.

    The cases are drawn from `seed`. Returns the exit status: 0 if every case passes, else 1.
    """
    module = exercise(number)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    print(f"exercise {number}: {module.TITLE}, {module.EQUATIONS}. Grading {module.FUNCTION} in {path}")
    try:
        fn = load(path, module.FUNCTION)
    except Wrong as err:
        print(f"cannot grade: {err}")
        return 1
    cases = module.cases(np.random.default_rng([seed, number]))
    verdicts = []
    for i, case in enumerate(cases, start=1):
        print(f"  case {i}/{len(cases)}: {case.label} ...", end=" ", flush=True)
        verdicts.append(grade(case, fn))
        print(verdicts[-1], flush=True)
    passed = sum(v.startswith("pass") for v in verdicts)
    if passed == len(cases):
        print(f"all {passed} cases pass: well done")
    elif any(v.startswith("not done") for v in verdicts):
        print(f"{passed} of {len(cases)} cases pass: not done yet, write the body of {module.FUNCTION}")
    else:
        print(f"{passed} of {len(cases)} cases pass; the hints are in derivation/exercises.md, exercise {number}")
    return 0 if passed == len(cases) else 1
