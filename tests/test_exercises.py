"""The exercises: reference answers pass, known mistakes get their hint, skeletons are 'not done yet',
and nothing a learner's file does (exit, hang, print, edit in place, leave bytecode or modules
behind) can make it pass: it runs in a process of its own.

Every `exercises.check` starts one such process (~0.6 s), so each test grades as few files as it can.
"""
import ast
import configparser
import importlib.util
import os
import py_compile
import re
import shutil

import pytest
from setuptools import find_packages

from adjoint_ref import exercises
from adjoint_ref.cli import main
from adjoint_ref.exercises import _common, _order

HERE = os.path.dirname(__file__)
WRONG = os.path.join(HERE, "wrong_solutions")
OTHER = os.path.join(HERE, "other_solutions")
NUMBERS = sorted(exercises.EXERCISES)

# Every file in tests/wrong_solutions/ and the hint it must get (the tag opens the hint).
HINTS = {
    "ex1_backwards.py": _common.WRONG_DIRECTION,
    "ex1_exit_at_import.py": "called sys.exit(0)",
    "ex1_float32_increment.py": _common.FLOAT32,
    "ex1_frozen_time.py": _common.TIME_DEPENDENCE,
    "ex1_keyboard_interrupt.py": "rk4_step raised KeyboardInterrupt",
    "ex2_exit_in_function.py": "vjps called sys.exit(0)",
    "ex2_negates_lam_in_place.py": _common.MUTATED,
    "ex2_transposed.py": _common.TRANSPOSED,
    "ex3_negated_f.py": _common.WRONG_DIRECTION,
    "ex3_negates_lam_in_place.py": _common.MUTATED,
    "ex3_no_time.py": _common.TIME_DEPENDENCE,
    "ex3_os_exit.py": "the grading process ended (exit status 0) without a word: os._exit",
    "ex4_aliased_state.py": _common.MUTATED,
    "ex4_float32.py": _common.FLOAT32,
    "ex4_half_steps.py": _order.TOO_FEW_STEPS,
    "ex4_kutta3.py": _order.LOW_ORDER,
    "ex4_patched_step.py": _common.PATCHED,
    "ex4_wrong_direction.py": _common.WRONG_DIRECTION,
    "ex5_comment_sign.py": _common.WRONG_SIGN,
    "ex5_float32.py": _common.FLOAT32,
    "ex5_no_integral.py": _common.TIME_DEPENDENCE,
    "ex6_term1_sign.py": _common.WRONG_SIGN,
    "ex6_trapezoid.py": _order.LOW_ORDER,
    "ex7_continuous.py": "continuous adjoint",
    "ex8_float32.py": _common.FLOAT32,
    "ex8_no_jumps.py": _common.MISSING_JUMP,
    "ex8_off_by_one.py": "jump at the wrong time",
    "ex9_no_coupling.py": "stage coupling dropped",
    "ex10_no_dg_dz.py": "∂g/∂z missing from λ",
}


def grade(number, path, capsys, **options):
    """(exit status, printed output) of `exercises.check`."""
    status = exercises.check(number, str(path), **options)
    return status, capsys.readouterr().out


def write(folder, text, name="answer.py"):
    path = folder / name
    path.write_text(text)
    return path


def number_of(name):
    """The exercise number in a file name such as ex10_no_dg_dz.py."""
    return int(re.match(r"ex(\d+)_", name).group(1))


def test_there_are_ten_exercises_in_order():
    assert NUMBERS == list(range(1, 11))


@pytest.mark.parametrize("number", NUMBERS)
def test_reference_solution_passes_and_says_how_close(number, capsys):
    status, out = grade(number, exercises.solution_path(number), capsys)
    assert status == 0 and "FAIL" not in out and "    | " not in out  # nothing printed: no warning, no traceback
    assert out.splitlines()[-1] == f"all {len(re.findall('  case ', out))} cases pass: well done"
    assert all(" ... pass (" in line for line in out.splitlines() if line.startswith("  case "))
    # Where the answer is a method of order 4, its error falls like h⁴ (h³ would be a lower order).
    assert all(3 < float(order) < 5 for order in re.findall(r"error falls like h\^([\d.]+)", out))


@pytest.mark.parametrize("name", sorted(os.listdir(OTHER)))
def test_other_right_answers_pass(name, capsys):
    status, out = grade(number_of(name), os.path.join(OTHER, name), capsys)
    assert status == 0 and "    | " not in out, out


@pytest.mark.parametrize("name", sorted(HINTS))
def test_wrong_solution_fails_with_its_hint(name, capsys):
    status, out = grade(number_of(name), os.path.join(WRONG, name), capsys)
    assert status == 1
    assert ("FAIL: " in out or "cannot grade: " in out) and "well done" not in out
    tag = HINTS[name]
    assert (f": {tag}: " if tag in vars(_common).values() or tag in vars(_order).values() else tag) in out, out
    # Nothing printed (no warning, no traceback) but by the file that prints, and by the grader's own
    # adjoint when the learner's step replaced the package's (it drifts, and says so).
    assert ("    | " in out) == (name in ("ex2_exit_in_function.py", "ex4_patched_step.py"))


def test_every_wrong_solution_has_its_hint_and_every_exercise_one():
    files = {name for name in os.listdir(WRONG) if name.endswith(".py")}
    assert files == set(HINTS)
    assert {number_of(name) for name in files} == set(NUMBERS)


@pytest.mark.parametrize("number", NUMBERS)
def test_skeleton_is_not_done_yet(number, tmp_path, capsys):
    path = exercises.start(number, str(tmp_path))[0]
    assert os.path.basename(path) == exercises.file_name(number)
    status, out = grade(number, path, capsys)
    assert status == 1
    lines = out.splitlines()
    case_lines = [line for line in lines if line.startswith("  case ")]
    assert case_lines and all(f"not done yet: exercise {number}: write the body of" in line for line in case_lines)
    assert "not done yet, write the body of" in lines[-1]


def signature_and_docstring(path, name):
    """(argument names, docstring) of the function `name` in the file at `path`, read without running it."""
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    fn = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
    return [arg.arg for arg in fn.args.args], ast.get_docstring(fn)


@pytest.mark.parametrize("number", NUMBERS)
def test_skeleton_has_the_reference_signature_a_docstring_and_no_reference_import(number):
    name, text = exercises.exercise(number).FUNCTION, exercises.skeleton(number)
    arguments, doc = signature_and_docstring(exercises.solution_path(number), name)
    tree = ast.parse(text)
    fn = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
    assert [arg.arg for arg in fn.args.args] == arguments
    assert len(ast.get_docstring(fn)) > 100
    assert "solutions" not in text


def test_exercise_8_builds_on_the_learners_own_exercise_4(tmp_path, capsys):
    written = exercises.start(8, str(tmp_path))
    assert [os.path.basename(p) for p in written] == ["ex8_observations.py", "ex4_backward_pass.py"]
    shutil.copy(exercises.solution_path(4), written[1])
    with open(exercises.solution_path(8), encoding="utf-8") as source:
        body = source.read().split('"""\n    lam, dL_dtheta', 1)[1]
    skeleton = exercises.skeleton(8)
    raise_line = '    raise NotImplementedError("exercise 8: write the body of adjoint_with_observations")\n'
    write(tmp_path, skeleton.replace(raise_line, "    lam, dL_dtheta" + body), "ex8_observations.py")
    assert grade(8, written[0], capsys)[0] == 0
    os.remove(written[1])
    status, out = grade(8, written[0], capsys)
    assert status == 1 and "exercise 8 builds on your exercise 4: put ex4_backward_pass.py in this folder" in out


def test_start_8_keeps_an_existing_exercise_4(tmp_path):
    mine = write(tmp_path, "# my exercise 4\n", "ex4_backward_pass.py")
    assert exercises.start(8, str(tmp_path)) == [str(tmp_path / "ex8_observations.py")]
    assert mine.read_text() == "# my exercise 4\n"


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
    status, out = grade(number, write(tmp_path, text), capsys)
    assert status == 1
    for word in words:
        assert word in out
    assert "Traceback" not in out


def test_learner_file_may_import_a_file_beside_it_and_print(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # Python's default: bytecode is written
    write(tmp_path, "from adjoint_ref.rk4 import rk4_step as step\n", "my_rk4_helper.py")
    path = write(tmp_path, "from my_rk4_helper import step\n\n\ndef rk4_step(f, z, theta, t, h):\n"
                           "    print('stepping')\n    return step(f, z, theta, t, h)\n")
    status, out = grade(1, path, capsys)
    assert status == 0
    assert "    | stepping" in out
    assert sorted(os.listdir(tmp_path)) == ["answer.py", "my_rk4_helper.py"]  # no __pycache__ left behind


def stale(path, text):
    """Cache path's current text as bytecode beside it, then give it `text` with the same size and
    modification time: Python's own import would then run the cached, older code."""
    original, cache = path.read_text(), importlib.util.cache_from_source(str(path))
    py_compile.compile(str(path), cfile=cache, doraise=True)
    stat = os.stat(path)
    path.write_text(text.ljust(len(original) - 1) + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with open(cache, "rb") as cached:  # the header import checks: flags, source mtime and size
        header = cached.read(16)
    assert header[4:16] == bytes(4) + (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (
        os.path.getsize(path).to_bytes(4, "little"))


@pytest.mark.parametrize("stale_file", ["ex1_rk4_step.py", "helper.py"])
def test_an_edit_is_graded_even_when_stale_bytecode_sits_beside_it(stale_file, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    right = {"helper.py": "from adjoint_ref.rk4 import rk4_step as step  # right, and padded\n",
             "ex1_rk4_step.py": "from helper import step\n\n\ndef rk4_step(f, z, theta, t, h):\n"
                                "    return step(f, z, theta, t, h)  # right\n"}
    wrong = {"helper.py": "def step(f, z, theta, t, h): return z  # wrong",
             "ex1_rk4_step.py": "def rk4_step(f, z, theta, t, h): return z  # wrong"}
    for name, text in right.items():
        write(tmp_path, text, name)
    stale(tmp_path / stale_file, wrong[stale_file])
    before = sorted(os.listdir(tmp_path / "__pycache__"))
    status, out = grade(1, tmp_path / "ex1_rk4_step.py", capsys)
    assert status == 1 and "FAIL" in out
    assert sorted(os.listdir(tmp_path / "__pycache__")) == before


def test_two_learners_helpers_of_the_same_name_in_one_process(tmp_path, capsys):
    for who, body in (("right", "from adjoint_ref.rk4 import rk4_step as step\n"),
                      ("wrong", "def step(f, z, theta, t, h):\n    return z + h * f(z, theta, t)\n")):
        (tmp_path / who).mkdir()
        write(tmp_path / who, body, "helper.py")
        write(tmp_path / who, "from helper import step\n\n\ndef rk4_step(f, z, theta, t, h):\n"
                              "    return step(f, z, theta, t, h)\n", "ex1_rk4_step.py")
    assert grade(1, tmp_path / "right" / "ex1_rk4_step.py", capsys)[0] == 0
    status, out = grade(1, tmp_path / "wrong" / "ex1_rk4_step.py", capsys)
    assert status == 1 and "Euler step" in out


@pytest.mark.parametrize("text, words", [
    ("def rk4_step(f, z, theta, t, h):\n    while True:\n        pass\n",
     ["case 1/5", "FAIL: no answer after 1 s (an endless loop?)", "0 of 5 cases pass; grading stopped at case 1"]),
    ("while True:\n    pass\n", ["cannot grade", "no answer after 1 s"]),
])
def test_a_hang_fails_after_the_timeout(text, words, tmp_path, capsys):
    status, out = grade(1, write(tmp_path, text), capsys, timeout=1)
    assert status == 1
    for word in words:
        assert word in out


def test_printed_reports_and_an_early_exit_cannot_pass(tmp_path, capsys):
    path = write(tmp_path, 'import os\nprint(\'{"done": true}\')\nprint("all 5 cases pass: well done")\n'
                           "os._exit(0)\n")
    status, out = grade(1, path, capsys)
    assert status == 1
    assert out.splitlines()[-1].startswith("cannot grade")


def test_start_does_not_overwrite_unless_forced(tmp_path):
    path = exercises.start(3, str(tmp_path))[0]
    with open(path, "a") as out:
        out.write("# my work\n")
    with pytest.raises(FileExistsError, match="--force"):
        exercises.start(3, str(tmp_path))
    exercises.start(3, str(tmp_path), force=True)
    assert "# my work" not in open(path).read()


def test_start_takes_a_path_ending_in_the_file_name_as_the_file(tmp_path):
    target = tmp_path / "sub" / "ex1_rk4_step.py"
    assert exercises.start(1, str(target)) == [str(target)]
    assert target.is_file()


@pytest.mark.parametrize("where, message", [
    ("notes.txt", "is a file, not a folder"), ("sub/mine.py", "names another .py file"),
    ("ex2_vjps.py", "names another .py file")])
def test_start_refuses_a_file_as_dir_with_one_line_and_status_2(where, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "keep me\n", "notes.txt")
    assert main(["exercise", "start", "1", where]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "keep me\n"


def test_statements_ship_with_the_package():
    # the only copy; test_links.py checks that the pages link to it
    assert os.path.isfile(exercises.STATEMENTS)
    config = configparser.ConfigParser()
    config.read(os.path.join(HERE, os.pardir, "setup.cfg"))
    assert config["options.package_data"]["adjoint_ref.exercises"].split() == ["exercises.md"]


@pytest.mark.parametrize("number", NUMBERS)
def test_show_prints_the_statement_and_the_conventions(number, capsys):
    assert main(["exercise", "show", str(number)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"## {number}. ") and exercises.exercise(number).FUNCTION in out
    assert "## Conventions and grading" in out and out.count("\n## ") == 1


def test_unknown_exercise_number():
    with pytest.raises(ValueError, match="number must be one of 1–10, got 11"):
        exercises.skeleton(11)


@pytest.mark.parametrize("option, value", [("seed", -1), ("seed", 1.5), ("seed", "0"), ("timeout", 0)])
def test_bad_seed_or_timeout_is_named(option, value):
    with pytest.raises(ValueError, match=f"{option} must be"):
        exercises.check(1, exercises.solution_path(1), **{option: value})


def test_cli_list_start_check(tmp_path, capsys):
    assert main(["exercise", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split(".")[0] for line in listing] == [str(n) for n in NUMBERS]
    assert main(["exercise", "start", "2", str(tmp_path)]) == 0
    assert main(["exercise", "start", "2", str(tmp_path)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["exercise", "check", "2", exercises.solution_path(2), "--seed", "3", "--timeout", "60"]) == 0


@pytest.mark.parametrize("bad", [["check", "0", "x.py"], ["start", "11"], ["check", "1"], ["grade"], ["show", "11"],
                                 ["check", "1", "x.py", "--seed", "-1"], ["check", "1", "x.py", "--timeout", "0"]])
def test_cli_rejects_bad_arguments(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["exercise"] + bad)
    assert info.value.code == 2
    assert "usage: adjoint-ref exercise" in capsys.readouterr().err


def test_setup_cfg_ships_the_exercise_subpackages():
    config = configparser.ConfigParser()
    config.read(os.path.join(HERE, os.pardir, "setup.cfg"))
    include = config["options.packages.find"]["include"].replace(",", " ").split()
    found = find_packages(os.path.join(HERE, os.pardir), include=include)
    assert {"adjoint_ref.exercises", "adjoint_ref.exercises.solutions"} <= set(found)


@pytest.mark.parametrize("errors, theirs, apart, tag", [
    ([5.6e-6, 7.1e-7], [5.5e-8, 3.5e-9], [5.6e-6, 7.1e-7], _order.LOW_ORDER),      # Kutta's rule (measured)
    ([8.0e-7, 5.5e-8], [5.5e-8, 3.5e-9], [7.5e-7, 5.2e-8], _order.TOO_FEW_STEPS),  # half the steps (measured)
    ([1.7e-8, 6.6e-9], [1.4e-8, 8.5e-10], [6e-9, 6e-9], _common.FLOAT32),          # float32 states (measured)
    ([3e-2, 3e-2], [5.5e-8, 3.5e-9], [3e-2, 3e-2], "a wrong formula"),            # a wrong formula
    ([5.5e-5, 3.5e-6], [5.5e-8, 3.5e-9], [5.5e-5, 3.5e-6], "tolerance 5 times"),     # 1000 times off, order 4
])
def test_order_diagnosis_names_the_cause(errors, theirs, apart, tag):
    why = _order.diagnosis("dL/dθ", (10, 20), errors, theirs, apart, 4.0)
    assert why.startswith(f"dL/dθ: {tag}: ") if " " not in tag else tag in why
