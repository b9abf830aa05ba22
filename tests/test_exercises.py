"""The exercises: reference answers pass, known mistakes get their hint, skeletons are 'not done yet'.

The checkers' tolerances are argued in adjoint_ref/exercises/_common.py (round-off for exact
identities, 10·h⁴ for RK4's global error); here we only check the verdicts they give.
"""
import configparser
import inspect
import os
import re

import pytest
from setuptools import find_packages

from adjoint_ref import exercises
from adjoint_ref.cli import main
from adjoint_ref.exercises import _common

WRONG = os.path.join(os.path.dirname(__file__), "wrong_solutions")
NUMBERS = sorted(exercises.EXERCISES)


def test_there_are_ten_exercises_in_order():
    assert NUMBERS == list(range(1, 11))


@pytest.mark.parametrize("number", NUMBERS)
def test_reference_solution_passes(number, capsys):
    assert exercises.check(number, exercises.solution_path(number)) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "cases pass: well done" in out


@pytest.mark.parametrize("name, tag", [
    ("ex1_frozen_time.py", _common.TIME_DEPENDENCE),
    ("ex1_backwards.py", _common.WRONG_DIRECTION),
    ("ex2_transposed.py", _common.TRANSPOSED),
    ("ex3_negated_f.py", _common.WRONG_DIRECTION),
    ("ex3_no_time.py", _common.TIME_DEPENDENCE),
    ("ex4_wrong_direction.py", _common.WRONG_DIRECTION),
    ("ex5_comment_sign.py", _common.WRONG_SIGN),
    ("ex5_no_integral.py", _common.TIME_DEPENDENCE),
    ("ex6_term1_sign.py", _common.WRONG_SIGN),
    ("ex7_continuous.py", "continuous adjoint"),
    ("ex8_no_jumps.py", _common.MISSING_JUMP),
    ("ex8_off_by_one.py", "jump at the wrong time"),
    ("ex9_no_coupling.py", "stage coupling dropped"),
    ("ex10_no_dg_dz.py", "∂g/∂z missing from λ"),
])
def test_wrong_solution_fails_with_its_hint(name, tag, capsys):
    number = exercise_number(name)
    assert exercises.check(number, os.path.join(WRONG, name)) == 1
    out = capsys.readouterr().out
    assert "FAIL: " in out and f": {tag}: " in out
    assert "Traceback" not in out


def exercise_number(file_name):
    """N of a file named exN_….py."""
    return int(re.match(r"ex(\d+)_", file_name).group(1))


def test_every_exercise_has_a_wrong_solution():
    assert {exercise_number(name) for name in os.listdir(WRONG) if name.endswith(".py")} == set(NUMBERS)


@pytest.mark.parametrize("number", NUMBERS)
def test_skeleton_is_not_done_yet(number, tmp_path, capsys):
    path = exercises.start(number, str(tmp_path))
    assert os.path.basename(path) == exercises.file_name(number)
    assert exercises.check(number, path) == 1
    lines = capsys.readouterr().out.splitlines()
    case_lines = [line for line in lines if line.startswith("  case ")]
    assert case_lines and all("not done yet" in line for line in case_lines)
    assert "not done yet, write the body of" in lines[-1]


@pytest.mark.parametrize("number", NUMBERS)
def test_skeleton_has_the_reference_signature_and_a_docstring(number, tmp_path):
    name = exercises.exercise(number).FUNCTION
    skeleton = exercises.load(exercises.start(number, str(tmp_path)), name)
    reference = exercises.load(exercises.solution_path(number), name)
    assert inspect.signature(skeleton) == inspect.signature(reference)
    assert len(inspect.getdoc(skeleton)) > 100


def write(tmp_path, text):
    path = tmp_path / "answer.py"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("number, text, words", [
    (1, "def rk4_step(f, z, theta, t, h)\n    return z\n", ["cannot grade", "line 1"]),
    (1, "import a_module_that_is_not_there\n", ["cannot grade", "ModuleNotFoundError"]),
    (1, "def step(f, z, theta, t, h):\n    return z\n", ["does not define a function rk4_step"]),
    (1, "def rk4_step(f, z, theta, t, h):\n    k1 = f(z, theta, t)\n    return {}['k2']\n",
     ["rk4_step raised KeyError: 'k2' (line 3 of"]),
    (1, "def rk4_step(f, z, theta, t, h):\n    return z[:1]\n", ["has shape (1,), expected (3,)"]),
    (1, "def rk4_step(f, z, theta, t, h):\n    pass\n", ["should be a float array of shape (3,), got None"]),
    (1, "def rk4_step(f, z, theta, t, h):\n    return z * float('nan')\n", ["contains NaN"]),
    (2, "def vjps(f, z, theta, t, lam):\n    return lam\n", ["expected a tuple (lam_df_dz, lam_df_dtheta)"]),
])
def test_learner_errors_are_reported_not_raised(number, text, words, tmp_path, capsys):
    assert exercises.check(number, write(tmp_path, text)) == 1
    out = capsys.readouterr().out
    for word in words:
        assert word in out
    assert "Traceback" not in out


def test_learner_file_may_import_a_file_beside_it(tmp_path, capsys):
    (tmp_path / "my_rk4_helper.py").write_text(
        "from adjoint_ref.rk4 import rk4_step as step\n")
    path = write(tmp_path, "from my_rk4_helper import step\n\n\ndef rk4_step(f, z, theta, t, h):\n"
                           "    return step(f, z, theta, t, h)\n")
    assert exercises.check(1, path) == 0


def test_missing_file_is_reported(tmp_path, capsys):
    assert exercises.check(1, str(tmp_path / "nothing.py")) == 1
    assert "no file" in capsys.readouterr().out


def test_start_does_not_overwrite_unless_forced(tmp_path):
    path = exercises.start(3, str(tmp_path))
    with open(path, "a") as out:
        out.write("# my work\n")
    with pytest.raises(FileExistsError, match="--force"):
        exercises.start(3, str(tmp_path))
    exercises.start(3, str(tmp_path), force=True)
    assert "# my work" not in open(path).read()


def test_unknown_exercise_number():
    with pytest.raises(ValueError, match="number must be one of 1–10, got 11"):
        exercises.skeleton(11)


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        exercises.check(1, exercises.solution_path(1), seed=seed)


def test_cli_list_start_check(tmp_path, capsys):
    assert main(["exercise", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split(".")[0] for line in listing] == [str(n) for n in NUMBERS]
    assert main(["exercise", "start", "2", str(tmp_path)]) == 0
    assert main(["exercise", "start", "2", str(tmp_path)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["exercise", "check", "2", exercises.solution_path(2), "--seed", "3"]) == 0


@pytest.mark.parametrize("bad", [["check", "0", "x.py"], ["start", "11"], ["check", "1"], ["grade"],
                                 ["check", "1", "x.py", "--seed", "-1"]])
def test_cli_rejects_bad_arguments(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["exercise"] + bad)
    assert info.value.code == 2
    assert "usage: adjoint-ref exercise" in capsys.readouterr().err


def test_setup_cfg_ships_the_exercise_subpackages():
    config = configparser.ConfigParser()
    config.read(os.path.join(os.path.dirname(__file__), os.pardir, "setup.cfg"))
    include = config["options.packages.find"]["include"].replace(",", " ").split()
    found = find_packages(os.path.join(os.path.dirname(__file__), os.pardir), include=include)
    assert {"adjoint_ref.exercises", "adjoint_ref.exercises.solutions"} <= set(found)
