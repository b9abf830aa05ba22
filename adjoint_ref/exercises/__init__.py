"""Graded exercises along the derivation: listing, statements, skeletons and grading (`adjoint-ref exercise`).

Each exercise is a module `exN_<function>.py` here with TITLE, EQUATIONS, SUMMARY, FUNCTION (the name
the learner writes), SKELETON (the learner's starting file below its header), `cases(rng)`, the
graded cases, and BLOCKED and ALLOWED: the package functions that refuse to run for the learner's
code during grading (`_guard`), and what the learner may import instead; `solutions/exN_<function>.py`
holds the reference answer. The statements are `exercises.md` here, package data and the only copy
(README.md and derivation/README.md link to it). `check` grades in a separate process
(`sandbox`, `runner`).
"""
import numbers
import os
import re

from .._impl.validate import positive_number
from .._impl.files import write_atomically
from . import (ex1_rk4_step, ex2_vjps, ex3_augmented_dynamics, ex4_backward_pass, ex5_dL_dt0, ex6_eq10_terms,
               ex7_discrete_adjoint, ex8_observations, ex9_step_multipliers, ex10_running_cost, sandbox)

EXERCISES = {number: module for number, module in enumerate(
    (ex1_rk4_step, ex2_vjps, ex3_augmented_dynamics, ex4_backward_pass, ex5_dL_dt0, ex6_eq10_terms,
     ex7_discrete_adjoint, ex8_observations, ex9_step_multipliers, ex10_running_cost), start=1)}
STATEMENTS = os.path.join(os.path.dirname(__file__), "exercises.md")
# Exercise 8 imports the learner's exercise 4 from the file beside it.
NEEDS = {8: 4}

__all__ = ["EXERCISES", "NEEDS", "check", "exercise", "file_name", "listing", "skeleton", "solution_path", "start",
           "statement"]


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


def statement(number):
    """The statement and hints of exercise `number` (its section of exercises.md), then the conventions."""
    exercise(number)
    with open(STATEMENTS, encoding="utf-8") as source:
        sections = re.split(r"\n---\n", source.read())
    own = next(s for s in sections if s.lstrip().startswith(f"## {number}. "))
    conventions = next(s for s in sections if s.lstrip().startswith("## Conventions"))
    return own.strip() + "\n\n" + conventions.strip() + "\n"


def skeleton(number):
    """The text of the learner's starting file: a header, imports, and the function left to write."""
    module = exercise(number)
    header = (f'"""Exercise {number}: {module.TITLE}, {module.EQUATIONS}.\n\n'
              f"Statement and hints: adjoint-ref exercise show {number}. Write the body of\n"
              f"{module.FUNCTION} (replace the raise), then grade it with\n\n"
              f"    adjoint-ref exercise check {number} {file_name(number)}\n"
              '"""\n')
    return header + module.SKELETON


def target(number, where="."):
    """The path `start` writes exercise `number` to: into the folder `where`, or `where` itself if it
    ends in the exercise's file name. ValueError for another .py name, NotADirectoryError for a file."""
    name = file_name(number)
    if os.path.isdir(where) or not where.endswith(".py"):
        if os.path.exists(where) and not os.path.isdir(where):
            raise NotADirectoryError(f"DIR {where} is a file, not a folder; give the folder to write {name} into")
        return os.path.join(where, name)
    if os.path.basename(where) != name:
        raise ValueError(f"DIR {where} names another .py file; give a folder (the file is always called {name}: "
                         "the grader and the other exercises look for that name)")
    return where


def start(number, where=".", force=False):
    """Write the skeleton of exercise `number` to `target(number, where)`; return the paths written.

    Exercise 8 also gets exercise 4's skeleton beside it, unless that file exists. Refuses
    (FileExistsError) to overwrite the exercise's file unless `force`; never overwrites exercise 4's.
    """
    path = target(number, where)
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path} exists already; pass --force to overwrite it")
    files = {path: number}
    needed = os.path.join(os.path.dirname(path), file_name(NEEDS[number])) if number in NEEDS else None
    if needed and not os.path.exists(needed):
        files[needed] = NEEDS[number]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    for file, n in files.items():  # written whole or not at all; a symbolic link is replaced, not its target
        write_atomically(file, lambda handle, n=n: handle.write(skeleton(n).encode("utf-8")),
                         replace=force and file == path)
    return list(files)


def check(number, path, seed=0, timeout=sandbox.TIMEOUT, first_failure=False):
    """Grade the learner's file `path` on exercise `number` in a separate process, one line per case.

    The cases are drawn from `seed`; a case (or the file's import) that runs longer than `timeout`
    seconds fails; with `first_failure` the grading stops at the first case that does not pass.
    Returns the exit status: 0 if every case passes, else 1.
    """
    module = exercise(number)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    timeout = positive_number(timeout, "timeout")
    return sandbox.grade(number, module, path, seed, timeout, bool(first_failure))
