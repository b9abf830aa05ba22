"""The command line never loses a user's file and answers a user's mistake with one line, exit 2.

The first tests run the real command (`python -m adjoint_ref`) in a subprocess, one per mechanism:
a value refused while parsing, a UsageError raised before any work, a file kept, Ctrl-C, --traceback.
The many individual values are checked in-process through `cli.main`, which is the same code.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from adjoint_ref import cli
from adjoint_ref.cli import train
from adjoint_ref.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(*words, cwd=None, timeout=60):
    """Run `python -m adjoint_ref WORDS` with this worktree's package; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "adjoint_ref", *words], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def assert_one_line_error(result, name, *words):
    """Exit status 2, no traceback, and the last line of stderr `adjoint-ref NAME: error: …` with `words`."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"adjoint-ref {name}: error: "), last
    for word in words:
        assert word in last, (word, last)


# --- the real command, in a subprocess ------------------------------------------------------------

def test_a_refused_value_is_one_line():
    # --t1 1e300 used to run into an infinite loss and a FloatingPointError traceback.
    assert_one_line_error(command("check", "--t1", "1e300"), "check", "argument --t1", "got '1e300'")


def test_backprops_memory_is_checked_before_any_work():
    # --steps 20000 used to compute the adjoint for 30 s, then fail in backprop with a traceback.
    start = time.perf_counter()
    result = command("check", "--steps", "20000")
    assert time.perf_counter() - start < 10
    assert_one_line_error(result, "check", "--steps 20000", "GiB, above the limit of 2 GiB")


def test_an_earlier_runs_files_are_kept(tmp_path):
    (tmp_path / "theta.npz").write_bytes(b"an earlier run")
    result = command("train", "--iters", "0", "--hidden", "2", "--out", str(tmp_path))
    assert_one_line_error(result, "train", "theta.npz already exists", "--force")
    assert os.listdir(tmp_path) == ["theta.npz"] and (tmp_path / "theta.npz").read_bytes() == b"an earlier run"


def test_a_bad_parameter_file_is_named(tmp_path):
    # A text file: numpy's own error would suggest loading it with allow_pickle=True.
    (tmp_path / "theta.npz").write_text("W1 = 1\n")
    result = command("train", "--load", str(tmp_path / "theta.npz"), "--out", str(tmp_path / "out"))
    assert_one_line_error(result, "train", "argument --load", "not an .npz file")
    assert "pickle" not in result.stderr and not (tmp_path / "out").exists()


def test_an_empty_out_is_refused_instead_of_writing_into_figures(tmp_path):
    # `--out "$UNSET"` used to draw into ./figures/, replacing the gallery's file.
    result = command("figures", "--out", "", "adjoint_trajectories.png", cwd=tmp_path)
    assert_one_line_error(result, "figures", "argument --out: must name a folder, got an empty string")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_stops_training_and_saves_the_parameters_reached(tmp_path):
    out = tmp_path / "run"
    words = ["train", "--iters", "100000", "--every", "1", "--hidden", "3", "--batch", "2", "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-m", "adjoint_ref", *words], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ROOT},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for _ in range(3):  # the header, iteration 0 and iteration 1: Adam is running
        process.stdout.readline()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("adjoint-ref train: interrupted after ")
    assert "saved the parameters reached to" in err and os.listdir(out) == ["theta.interrupted.npz"]
    theta = train.load_parameters(out / "theta.interrupted.npz")
    assert theta["b1"].shape == (3,)


def test_traceback_on_demand():
    result = command("check", "--steps", "20000", "--traceback")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "UsageError: --steps 20000" in result.stderr


# --- the same code in-process: every value the issue listed ----------------------------------------

def status_and_error(argv, capsys):
    """(exit status, last line of stderr) of `cli.main(argv)`, whether argparse exits or main returns."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    lines = capsys.readouterr().err.strip().splitlines()
    return status, lines[-1] if lines else ""


@pytest.mark.parametrize("argv, words", [
    (["check", "--seed", "-1"], ["argument --seed: must be a non-negative integer, got '-1'"]),
    (["equations", "--seed", "-1"], ["argument --seed: must be a non-negative integer"]),
    (["train", "--seed", "-1"], ["argument --seed: must be a non-negative integer"]),
    (["check", "--t1", "inf"], ["argument --t1", "got 'inf'"]),
    (["check", "--t1", "nan"], ["argument --t1", "got 'nan'"]),
    (["check", "--tol", "inf"], ["argument --tol: must be a positive, finite number"]),
    (["check", "--steps", "2.5"], ["argument --steps: must be a positive integer, got '2.5'"]),
    (["train", "--noise", "inf"], ["argument --noise", "got 'inf'"]),
    (["train", "--lr", "inf"], ["argument --lr", "got 'inf'"]),
    (["train", "--window", "1000"], ["argument --window: must be an integer from 2 to 300"]),
    (["train", "--window", "1"], ["argument --window"]),
    (["train", "--batch", "1000"], ["--window 20 with --batch 1000", "between 1 and 281"]),
    (["train", "--window", "290", "--batch", "20"], ["--window 290 with --batch 20", "between 1 and 11"]),
    (["train", "--load", "no_such_file.npz"], ["argument --load: no_such_file.npz: no such file"]),
    (["figures", "unknown.png"], ["argument NAME: unknown figure 'unknown.png'; the figures are"]),
    (["trian"], ["invalid choice: 'trian'", "'train'"]),
])
def test_a_mistake_is_named_before_any_work(argv, words, capsys):
    status, error = status_and_error(argv, capsys)
    assert status == 2 and error.startswith("adjoint-ref")
    for word in words:
        assert word in error, (word, error)


@pytest.mark.parametrize("name, argv", [
    ("train", ["--out", "{file}"]), ("figures", ["--out", "{file}"]), ("bench", ["--out", "{file}"]),
    ("train", ["--out", "{file}/sub"]), ("train", ["--out", ""]), ("bench", ["--out", ""]),
    ("train", ["--out", "{folder}"]),
])
def test_an_unusable_output_path_is_refused_before_any_work(name, argv, tmp_path, capsys):
    (tmp_path / "a_file").write_text("keep me")
    (tmp_path / "run" / "theta.npz").mkdir(parents=True)  # a folder where train's theta.npz would go
    argv = [word.format(file=tmp_path / "a_file", folder=tmp_path / "run") for word in argv]
    status, error = status_and_error([name] + argv, capsys)
    assert status == 2 and error.startswith(f"adjoint-ref {name}: error: ")
    assert (tmp_path / "a_file").read_text() == "keep me"


def test_figures_replace_existing_files_only_with_force(tmp_path, capsys):
    name = "adjoint_trajectories.png"
    (tmp_path / name).write_bytes(b"the user's own file")
    status, error = status_and_error(["figures", "--quick", "--out", str(tmp_path), name], capsys)
    assert status == 2 and "already exists; pass --force" in error
    assert (tmp_path / name).read_bytes() == b"the user's own file"
    assert main(["figures", "--quick", "--out", str(tmp_path), "--force", name]) == 0
    assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG" and os.listdir(tmp_path) == [name]


def test_bench_refuses_to_replace_its_figure_before_measuring(tmp_path, capsys, monkeypatch):
    (tmp_path / "memory_vs_steps.png").write_bytes(b"kept")
    monkeypatch.setattr(cli.COMMANDS["bench"], "print_stages", lambda quick: pytest.fail("measured before checking"))
    status, error = status_and_error(["bench", "--quick", "--out", str(tmp_path)], capsys)
    assert status == 2 and "memory_vs_steps.png already exists" in error


def test_train_replaces_its_files_with_force(tmp_path, capsys):
    options = ["train", "--iters", "0", "--hidden", "2", "--out", str(tmp_path)]
    assert main(options) == 0
    first = (tmp_path / "theta.npz").read_bytes()
    assert status_and_error(options, capsys)[0] == 2
    assert main(options + ["--force", "--seed", "1"]) == 0
    assert (tmp_path / "theta.npz").read_bytes() != first
    assert sorted(os.listdir(tmp_path)) == ["spiral_fit.png", "theta.npz"]


def test_a_bug_keeps_its_traceback(monkeypatch):
    # Only UsageError, argparse's refusals and Ctrl-C are the user's: a library ValueError is not.
    def broken(args):
        raise ValueError("a bug")

    monkeypatch.setattr(cli.COMMANDS["check"], "run", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["check"])


def test_interrupted_file_takes_a_free_name(tmp_path):
    from adjoint_ref.cli.commands.train import save_interrupted

    (tmp_path / "theta.interrupted.npz").write_bytes(b"an earlier interruption")
    stop = train.Interrupted(train.initial_parameters(2, 0), 5, 10)
    line = save_interrupted(stop, str(tmp_path))
    assert "theta.interrupted.1.npz" in line and "after 5 of 10" in line
    assert (tmp_path / "theta.interrupted.npz").read_bytes() == b"an earlier interruption"
    assert np.array_equal(train.load_parameters(tmp_path / "theta.interrupted.1.npz")["W1"], stop.theta["W1"])
