"""The `adjoint-ref` command line: `check` passes on the defaults and fails honestly."""
import subprocess
import sys

import pytest

import adjoint_ref
from adjoint_ref.cli import main


def test_check_is_the_default_and_passes(capsys):
    assert main(["--steps", "10", "--repeat", "1", "--hidden", "6"]) == 0
    out = capsys.readouterr().out
    for word in ("backprop (reference)", "discrete_adjoint", "checkpointed", "forward_sensitivity", "dL/dz0",
                 "dL/dθ", "dL/dts", "time/grad", "f evals", "finite_differences", "adjoint drift", "verdict (agree)"):
        assert word in out
    assert "FAIL" not in out


def test_check_fails_when_the_tolerance_is_below_the_h4_gap(capsys):
    # With 2 steps per interval the adjoint–backprop gap is ~1e-6 or more, far above 1e-12.
    assert main(["check", "--steps", "2", "--repeat", "1", "--hidden", "4", "--tol", "1e-12"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_check_counts_f_and_takes_a_step_size(capsys):
    # on [0, 1] with 5 times: --step-size 0.1 is ⌈0.25 / 0.1⌉ = 3 steps per interval, 12 in all; backprop
    # evaluates f 4 times per step, plus the memory guard's 4 (one recorded step); the adjoint 4 forwards and
    # 4 backwards per step, plus dz/dt at the 5 observation times, plus 1: fast_vjp records the built-in MLP
    # twice at its first backward stage (θ leaf by leaf, refused since the MLP takes θ whole, then θ whole)
    assert main(["check", "--step-size", "0.1", "--hidden", "3", "--methods", "backprop,adjoint", "--tol", "1e-4",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3, 3, 3, 3 RK4 steps per observation interval (12 in all)" in out
    rows = [line.split() for line in out.splitlines() if " ms " in line]
    assert [(row[0], row[row.index("ms") + 1]) for row in rows] == [("backprop", "52"), ("adjoint", "102")]
    assert main(["check", "--step-size", "1e-12", "--quiet"]) == 2
    assert "--step-size 1e-12: step_size=1e-12 would take more than 1e9 RK4 steps" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--steps", "0"], ["--t1", "-1"], ["--batch", "-2"], ["--tol", "0"],
                                 ["--step-size", "0"], ["--step-size", "0.1", "--steps", "3"]])
def test_bad_option_is_rejected(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["check"] + bad)
    assert info.value.code == 2
    assert bad[0] in capsys.readouterr().err


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "adjoint_ref", "check", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "--steps" in out and "--seed" in out and "--hidden" in out and "--batch" in out and "--t1" in out


def test_misspelt_command_is_named_not_passed_to_check(capsys):
    with pytest.raises(SystemExit) as info:
        main(["trian"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'trian'" in err and "'train'" in err and "unrecognized" not in err


@pytest.mark.parametrize("name", ["check", "equations", "train", "figures", "bench", "exercise"])
def test_every_command_has_its_help(name, capsys):
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: adjoint-ref {name} ")


def test_version_is_the_package_version_and_not_passed_to_check(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"adjoint-ref {adjoint_ref.__version__}\n"


def test_equations_refuses_a_step_size_that_gives_the_intervals_different_counts(tmp_path, capsys):
    # its arrays hold one RK4 grid per interval: on times 0, 0.2, 1.5, 2 a step of 0.1 gives 2, 13, 5 steps,
    # even and at least 4: 4, 14, 6
    model = tmp_path / "irregular.py"
    model.write_text("import autograd.numpy as anp\nimport numpy as np\nimport adjoint_ref as ar\n\n"
                     "def f(z, theta, t):\n    return -theta * z\n\n"
                     "def problem():\n    return ar.Problem(f, np.array([1.0]), np.array(0.5), "
                     "np.array([0.0, 0.2, 1.5, 2.0]), lambda zs: anp.sum(zs ** 2))\n")
    assert main(["equations", "--problem", f"{model}:problem", "--step-size", "0.1", "--quiet"]) == 2
    assert "--step-size 0.1 gives the observation intervals different step counts (4, 6, 14)" in capsys.readouterr().err


def test_check_wrt_and_dopri5(capsys):
    # --wrt chooses the columns; --solver dopri5 runs the methods dopri5 has, at --rtol/--atol
    assert main(["check", "--problem", "linear", "--steps", "60", "--wrt", "theta", "--quiet"]) == 0
    head = capsys.readouterr().out.split("time/grad")[0].splitlines()[-1]
    assert "dL/dθ" in head and "dL/dz0" not in head and "dL/dts" not in head
    assert main(["check", "--problem", "linear", "--solver", "dopri5", "--rtol", "1e-8", "--atol", "1e-10",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "dopri5, adaptive steps at rtol=1e-08" in out and "checkpointed" not in out
    for argv in (["--solver", "dopri5", "--steps", "4"], ["--rtol", "1e-6"]):  # the other solver's options
        assert main(["check", "--problem", "linear", "--quiet", *argv]) == 2
    with pytest.raises(SystemExit):
        main(["check", "--problem", "linear", "--wrt", "lambda"])
