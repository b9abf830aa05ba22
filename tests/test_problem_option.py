"""--problem FILE.py[:NAME] and --problem NAME on `check`, `equations` and `bench`.

A file that does not import, lacks the function, returns something else than an adjoint_ref.Problem,
or a Problem that does not validate, is a one-line usage error with exit status 2.
"""
import os
import textwrap

import pytest

from adjoint_ref.cli import main

GOOD = """
    import autograd.numpy as anp
    import numpy as np
    import adjoint_ref as ar

    def f(z, theta, t):
        return anp.dot(theta, z)

    def problem():
        return ar.Problem(f, np.array([1.0, 0.5]), np.array([[-0.5, 1.0], [-1.0, -0.2]]),
                          np.linspace(0.0, 1.0, 3), lambda zs: anp.sum(zs[1:] ** 2))

    def shorter():
        return problem()._replace(ts=np.array([0.0, 0.5]))
"""


def write(tmp_path, text, name="mine.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def usage_error(argv, capsys):
    """The stderr lines of a command that must exit with status 2."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()


def test_check_runs_the_problem_of_a_file_without_writing_bytecode(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    assert main(["check", "--problem", path, "--steps", "20", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"adjoint-ref check: {path}:problem()\n") and "3 observation times" in out
    assert main(["check", "--problem", f"{path}:shorter", "--steps", "20", "--quiet"]) == 0
    assert "2 observation times" in capsys.readouterr().out
    assert os.listdir(tmp_path) == ["mine.py"]  # no __pycache__ beside it


def test_a_file_problem_gets_the_default_steps(tmp_path, capsys):
    assert main(["check", "--problem", write(tmp_path, GOOD), "--quiet"]) == 0
    assert "20 RK4 steps per observation interval (40 in all)" in capsys.readouterr().out


@pytest.mark.parametrize("text, suffix, message", [
    ("import not_a_module_anywhere\n", "", "importing {path} raised ModuleNotFoundError"),
    ("def problem(:\n", "", "{path}, line 1: "),
    ("x = 1\n", "", "{path} defines no function problem()"),
    (GOOD, ":missing", "{path} defines no function missing()"),
    ("def problem():\n    return (1, 2)\n", "", "{path}:problem() returned tuple, not an adjoint_ref.Problem"),
    ("def problem():\n    raise RuntimeError('no data')\n", "", "{path}:problem() raised RuntimeError: no data"),
    (GOOD.replace("anp.dot(theta, z)", "anp.dot(theta, z)[:1]"), "",
     "{path}:problem() returned a Problem that does not validate: ValueError: f returned shape (1,)"),
])
def test_a_bad_file_is_a_one_line_error(tmp_path, capsys, text, suffix, message):
    path = write(tmp_path, text)
    lines = usage_error(["check", "--problem", path + suffix], capsys)
    assert lines[0].startswith("usage: adjoint-ref check") and all(line[0] == " " for line in lines[1:-1])
    assert lines[-1].startswith("adjoint-ref check: error: argument --problem")  # argparse's usage, then one line
    assert message.format(path=path) in lines[-1]


def test_unknown_names_and_missing_files(tmp_path, capsys):
    assert "neither a built-in problem (mlp, linear" in usage_error(["check", "--problem", "lorentz"], capsys)[-1]
    assert "no file" in usage_error(["check", "--problem", str(tmp_path / "absent.py")], capsys)[-1]


def test_mlp_options_belong_to_the_default_problem(capsys):
    assert main(["check", "--problem", "linear", "--hidden", "4"]) == 2  # a UsageError, before any work
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adjoint-ref check: error: --hidden shapes the default "
                                                   "problem (mlp) only")


def test_bench_draws_the_gallery_figure_for_the_default_problem_only(tmp_path, capsys):
    assert main(["bench", "--problem", "pendulum", "--quick", "--out", str(tmp_path)]) == 2
    assert "leave out --problem or --out" in capsys.readouterr().err and os.listdir(tmp_path) == []


def test_equations_and_bench_take_the_option(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    assert main(["equations", "--problem", path, "--steps", "20", "--quiet"]) == 0
    assert f"adjoint-ref equations: {path}:problem()" in capsys.readouterr().out
    assert main(["bench", "--problem", "pendulum", "--stages", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "backward stage (one make_vjp of f)" in out and "(z0 (2,), 2 parameters)" in out
    assert "argument --problem" in usage_error(["bench", "--problem", path + ":missing"], capsys)[-1]


def test_f_in_plain_numpy_is_one_line_naming_the_call(tmp_path, capsys):
    # np.stack on the values autograd traces builds an array of objects: before, a traceback ending
    # in "ufunc 'isfinite' not supported"; now one line saying f must use autograd.numpy
    path = write(tmp_path, GOOD.replace("anp.dot(theta, z)", "np.stack([theta[0] @ z, theta[1] @ z])"))
    assert main(["check", "--problem", path, "--steps", "4", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("adjoint-ref check: error: ")
    assert "autograd.numpy" in err[0] and "np.stack" in err[0]
