"""Data safety, second round: concurrent runs, signals, full disks, closed pipes, users' problem files.

docs/robustness.md lists the cases ("The command line, second round") and what each gets. A case
that involves a signal, a pipe, a file-size limit, a mount or a deleted folder runs the real command
in a subprocess; the others call `cli.main` in-process, which is the same code.
"""
import io
import os
import resource
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from adjoint_ref import cli
from adjoint_ref._impl import files
from adjoint_ref.cli import figures, main, train
from test_cli_safety import status_and_error

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT}
TRAIN = ["train", "--iters", "2", "--hidden", "2", "--batch", "2", "--every", "1"]
QUICK_CHECK = ["check", "--hidden", "2", "--batch", "1", "--methods", "backprop,adjoint"]


def start(*words, cwd=None, env=None, **options):
    """`python -m adjoint_ref WORDS` started in a subprocess (pipes for stdout and stderr, text)."""
    return subprocess.Popen([sys.executable, "-m", "adjoint_ref", *words], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env or ENV, **options)


def run(*words, timeout=60, **options):
    """(exit status, stdout, stderr) of `python -m adjoint_ref WORDS` run to its end."""
    process = start(*words, **options)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def one_line(err, status, returncode, *words):
    """The run exited with `status` and wrote one line to stderr, holding `words`, and no traceback."""
    assert returncode == status and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)


def temporaries(folder):
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


@pytest.fixture
def tmpfs(tmp_path):
    """A folder on a fresh 512 KiB tmpfs (root only), unmounted afterwards; skipped where it cannot be mounted."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def file_size_limit(size):
    """preexec_fn: files the child writes may not exceed `size` bytes (a write beyond gets EFBIG)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


# --- 1. two runs into one --out --------------------------------------------------------------------

def test_write_together_keeps_a_file_that_appears_meanwhile_and_leaves_nothing_of_its_own(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.png"

    def other_run_writes_b(handle):  # while this run stages b, another run moves its own b in
        b.write_bytes(b"the other run's")
        handle.write(b"ours")

    with pytest.raises(files.OutputTaken, match="b.png appeared while this run worked"):
        files.write_together({a: lambda handle: handle.write(b"ours"), b: other_run_writes_b}, replace=False)
    assert os.listdir(tmp_path) == ["b.png"] and b.read_bytes() == b"the other run's"


def test_moving_in_without_replace_never_replaces(tmp_path):
    # The last step itself, for a file that appears after write_together looked: os.link refuses atomically.
    (tmp_path / "a.png").write_bytes(b"the other run's")
    (tmp_path / "ours.tmp").write_bytes(b"ours")
    with pytest.raises(FileExistsError):
        files.move_in(tmp_path / "ours.tmp", tmp_path / "a.png", replace=False)
    assert (tmp_path / "a.png").read_bytes() == b"the other run's"
    files.move_in(tmp_path / "ours.tmp", tmp_path / "b.png", replace=False)
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"] and (tmp_path / "b.png").read_bytes() == b"ours"


def test_train_keeps_the_other_runs_files_and_says_where_its_own_went(tmp_path, capsys, monkeypatch):
    out, fit = tmp_path / "run", train.fit

    def fit_while_another_run_finishes(**options):
        result = fit(**options)
        out.mkdir()
        (out / "theta.npz").write_bytes(b"the other run's")
        return result

    monkeypatch.setattr(cli.COMMANDS["train"].train, "fit", fit_while_another_run_finishes)
    status, error = status_and_error(TRAIN + ["--out", str(out)], capsys)
    assert status == 2 and "theta.npz appeared while this run worked" in error
    assert f"results went to {out}/theta.1.npz and {out}/spiral_fit.1.png" in error
    assert (out / "theta.npz").read_bytes() == b"the other run's"
    assert sorted(os.listdir(out)) == ["spiral_fit.1.png", "theta.1.npz", "theta.npz"]
    assert train.load_parameters(out / "theta.1.npz")["b1"].shape == (2,)


def test_figures_keep_a_file_another_run_wrote_meanwhile(tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    def draw(quick):
        (tmp_path / "mine.png").write_bytes(b"the other run's")
        return Figure(figsize=(1, 1))

    monkeypatch.setitem(figures.FIGURES, "mine.png", ("a test figure", draw))
    status, error = status_and_error(["figures", "--out", str(tmp_path), "mine.png"], capsys)
    assert status == 2 and "mine.png appeared while this run worked" in error and "dropped" in error
    assert (tmp_path / "mine.png").read_bytes() == b"the other run's" and os.listdir(tmp_path) == ["mine.png"]


# --- 2. a full disk or a file-size limit with --force ------------------------------------------------

def test_a_full_disk_replaces_neither_of_trains_files(tmpfs):
    # theta.npz (a few KiB) fits on the 512 KiB disk, spiral_fit.png (~200 KiB) does not beside the
    # 400 KiB taken: both old files stay, one line, exit status 1 (the environment's, not the user's).
    (tmpfs / "theta.npz").write_bytes(b"old theta")
    (tmpfs / "spiral_fit.png").write_bytes(b"old figure")
    (tmpfs / "ballast").write_bytes(b"x" * 400 * 1024)
    status, _, err = run(*TRAIN, "--out", str(tmpfs), "--force")
    one_line(err, 1, status, "cannot write", "No space left on device", "nothing was replaced")
    assert (tmpfs / "theta.npz").read_bytes() == b"old theta"
    assert (tmpfs / "spiral_fit.png").read_bytes() == b"old figure" and temporaries(tmpfs) == []


# --- 3. signals and a closed stdout -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_termination_signal_saves_the_parameters_like_ctrl_c(name, tmp_path):
    out = tmp_path / "run"
    process = start("train", "--iters", "100000", "--every", "1", "--hidden", "3", "--batch", "2", "--out", str(out))
    for _ in range(3):  # the header, iteration 0 and iteration 1: Adam is running
        process.stdout.readline()
    process.send_signal(getattr(signal, name))
    _, err = process.communicate(timeout=30)
    one_line(err, 128 + getattr(signal, name), process.returncode, f"adjoint-ref train: terminated by {name} after ",
             "saved the parameters reached to")
    assert os.listdir(out) == ["theta.interrupted.npz"]


def test_a_closed_stdout_does_not_lose_the_run(tmp_path):
    # `adjoint-ref train | head -2`: the reader goes away; the run goes on and writes its files.
    process = start(*TRAIN, "--out", str(tmp_path))
    lines = [process.stdout.readline() for _ in range(2)]
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=60) == 0 and err == "" and lines[0].startswith("adjoint-ref train:")
    assert sorted(os.listdir(tmp_path)) == ["spiral_fit.png", "theta.npz"]


def test_check_into_a_closed_pipe_keeps_its_exit_status():
    # `adjoint-ref check | head -1`
    process = start(*QUICK_CHECK)
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=60) == 0 and process.stderr.read() == ""


SIGTERM_WHILE_WRITING = """
import os, signal, sys
from matplotlib.figure import Figure
from adjoint_ref.cli import figures, main

class Killed(Figure):
    def savefig(self, handle, **options):  # half the file written, then the signal
        handle.write(b"half a PNG")
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("the signal did not stop the write")

figures.FIGURES["killed.png"] = ("", lambda quick: Killed())
sys.exit(main(["figures", "--force", "--out", sys.argv[1], "killed.png"]))
"""


def test_sigterm_while_a_figure_is_written_leaves_no_temporary_file(tmp_path):
    (tmp_path / "killed.png").write_bytes(b"the earlier figure")
    process = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_WRITING, str(tmp_path)], capture_output=True,
                             text=True, env=ENV, timeout=60)
    one_line(process.stderr, 128 + signal.SIGTERM, process.returncode, "adjoint-ref figures: terminated by SIGTERM")
    assert os.listdir(tmp_path) == ["killed.png"] and (tmp_path / "killed.png").read_bytes() == b"the earlier figure"


# --- 4. output paths checked before the work -------------------------------------------------------

@pytest.fixture
def no_training(monkeypatch):
    monkeypatch.setattr(cli.COMMANDS["train"].train, "fit", lambda **options: pytest.fail("trained before checking"))


def test_a_dangling_symlink_out_is_refused_before_training(tmp_path, capsys, no_training):
    (tmp_path / "link").symlink_to(tmp_path / "missing")
    status, error = status_and_error(["train", "--out", str(tmp_path / "link" / "sub")], capsys)
    assert status == 2 and "is a symbolic link to" in error and "which does not exist" in error


def test_a_name_longer_than_the_file_system_allows_is_refused_before_training(tmp_path, capsys, no_training):
    status, error = status_and_error(["train", "--out", str(tmp_path / ("x" * 300))], capsys)
    assert status == 2 and "longer than the 255 bytes the file system allows" in error


def test_a_file_named_like_the_default_figures_folder_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figures_quick").write_text("not a folder")
    monkeypatch.setattr(figures, "render", lambda *a, **k: pytest.fail("drew before checking"))
    status, error = status_and_error(["figures", "--quick", "dL_dt0_tangents.png"], capsys)
    assert status == 2 and error.endswith("--out figures_quick (the default): figures_quick is a file, not a folder")


def test_a_read_only_default_figures_folder_is_refused(tmpfs, capsys, monkeypatch):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    monkeypatch.chdir(tmpfs)
    monkeypatch.setattr(figures, "render", lambda *a, **k: pytest.fail("drew before checking"))
    status, error = status_and_error(["figures", "--quick", "dL_dt0_tangents.png"], capsys)
    assert status == 2 and "cannot write into" in error and "read-only" in error


def test_train_from_a_deleted_folder_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    status, _, err = run(*TRAIN, cwd=gone, preexec_fn=lambda: os.rmdir(gone))
    assert "the current folder no longer exists" in err.strip().splitlines()[-1] and status == 2
    assert "Traceback" not in err


def test_an_invalid_mplbackend_does_not_stop_training(tmp_path):
    status, _, err = run(*TRAIN, "--out", str(tmp_path), env={**ENV, "MPLBACKEND": "nonsense"})
    assert status == 0 and err == "" and sorted(os.listdir(tmp_path)) == ["spiral_fit.png", "theta.npz"]


# --- 5. exercise start --force ---------------------------------------------------------------------

def test_exercise_start_replaces_a_symlink_not_its_target(tmp_path, capsys):
    target = tmp_path / "my_notes.py"
    target.write_text("my own notes")
    (tmp_path / "ex1_rk4_step.py").symlink_to(target)
    assert main(["exercise", "start", "1", str(tmp_path), "--force"]) == 0
    assert target.read_text() == "my own notes" and not (tmp_path / "ex1_rk4_step.py").is_symlink()
    assert "def rk4_step" in (tmp_path / "ex1_rk4_step.py").read_text()


def test_exercise_start_under_a_file_size_limit_keeps_the_file_whole(tmp_path):
    (tmp_path / "ex1_rk4_step.py").write_text("my solution")
    status, _, err = run("exercise", "start", "1", str(tmp_path), "--force", preexec_fn=file_size_limit(100))
    one_line(err, 2, status, "File too large")
    assert (tmp_path / "ex1_rk4_step.py").read_text() == "my solution" and temporaries(tmp_path) == []


# --- 6. a problem file that exits or loops ---------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("import sys\nsys.exit(0)\n", ["importing", "raised SystemExit (sys.exit(0))"]),
    ("def problem():\n    raise SystemExit(0)\n", ["problem() raised SystemExit (sys.exit(0))"]),
], ids=["at import", "in problem()"])
def test_a_problem_file_that_exits_is_an_error(text, words, tmp_path, capsys):
    (tmp_path / "p.py").write_text(text)
    status, error = status_and_error(["check", "--problem", str(tmp_path / "p.py")], capsys)
    assert status == 2 and error.startswith("adjoint-ref check: error: argument --problem:")
    for word in words:
        assert word in error


def test_ctrl_c_while_a_problem_file_loops_is_one_line(tmp_path):
    (tmp_path / "p.py").write_text("print('looping', flush=True)\nwhile True:\n    pass\n")
    process = start("check", "--problem", str(tmp_path / "p.py"),
                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout.readline() == "looping\n"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    one_line(err, 130, process.returncode, f"adjoint-ref check: interrupted while importing {tmp_path / 'p.py'}")


# --- 8. memory ------------------------------------------------------------------------------------

def npz_of_headers(path, shapes):
    """An .npz file whose .npy headers claim float64 arrays of `shapes` ({name: shape}) and hold no data:
    small on disk, but huge (or wrong) if its arrays were read."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, shape in shapes.items():
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
            archive.writestr(f"{name}.npy", header.getvalue())
    return path


@pytest.mark.parametrize("hidden, words", [
    (10**8, ["its arrays would take 4.47 GiB of memory, above the limit of 2 GiB"]),
    (None, ["shapes do not form a 2 → hidden → 2 MLP: W1 (2, 200000000)"]),
], ids=["consistent shapes", "wrong shapes"])
def test_a_parameter_file_is_judged_by_its_headers_before_its_data(hidden, words, tmp_path, capsys):
    shapes = train.expected_shapes(hidden or 3)
    if hidden is None:
        shapes["W1"] = (2, 2 * 10**8)
    path = npz_of_headers(tmp_path / "theta.npz", shapes)
    status, error = status_and_error(["train", "--load", str(path)], capsys)
    assert status == 2 and error.startswith(f"adjoint-ref train: error: argument --load: {path}: ")
    for word in words:
        assert word in error


@pytest.mark.parametrize("argv, words", [
    (["check", "--hidden", "1000000000"], ["--hidden 1000000000: too much memory", "164 GiB"]),
    (["check", "--batch", "20000", "--methods", "adjoint,forward_sensitivity"],
     ["--methods forward_sensitivity on mlp: too much memory", "dz/dz0 and dz/dθ, 40000 × 40098", "155 GiB"]),
    (["check", "--batch", "2000", "--steps", "100000", "--methods", "discrete_adjoint,adjoint"],
     ["the discrete adjoint with n_steps=100000", "above the limit of 2 GiB"]),
], ids=["problem", "forward sensitivities", "MemoryLimitError"])
def test_too_much_memory_is_one_line_before_any_work(argv, words, capsys, monkeypatch):
    if "discrete_adjoint,adjoint" not in argv:  # the last is refused inside check, by the method's own guard
        monkeypatch.setattr(cli.COMMANDS["check"], "check", lambda *a: pytest.fail("worked before the memory check"))
    status, error = status_and_error(argv, capsys)
    assert status == 2 and error.startswith("adjoint-ref check: error: ")
    for word in words:
        assert word in error


# --- 9. a user's problem that breaks ------------------------------------------------------------

PROBLEM = """import numpy as np, autograd.numpy as anp
import adjoint_ref as ar

def problem():
    return ar.Problem(lambda z, th, t: {f}, np.ones(2), {theta}, np.array([0.0, {t1}]), lambda zs: {loss})
"""


@pytest.mark.parametrize("command", ["check", "equations"])
@pytest.mark.parametrize("f, theta, t1, loss, words", [
    ("th * z ** 3", "50.0", "5.0", "anp.sum(zs ** 2)", ["FloatingPointError: the state became non-finite at t=",
                                                         "during the forward pass"]),
    ("th * z", "0.5", "1.0", "zs[-1]", ["ValueError: loss must return a scalar, got an array of shape (2,)"]),
    ("th * z", "0.5", "1.0", "anp.sum(zs) * np.nan", ["loss returned nan on the forward solution: the loss, not a "
                                                       "gradient method, is at fault"]),
], ids=["f overflows", "array loss", "NaN loss"])
def test_a_users_problem_that_breaks_is_one_line_naming_the_file(command, f, theta, t1, loss, words, tmp_path,
                                                                 capsys):
    (tmp_path / "p.py").write_text(PROBLEM.format(f=f, theta=theta, t1=t1, loss=loss))
    status, error = status_and_error([command, "--problem", str(tmp_path / "p.py")], capsys)
    assert status == 2 and error.startswith(f"adjoint-ref {command}: error: {tmp_path / 'p.py'}:problem(): ")
    for word in words:
        assert word in error


def test_a_problem_file_that_changes_folder_loads(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.py").write_text("import os\nos.chdir('/')\n" + PROBLEM.format(f="th * z", theta="0.5", t1="1.0",
                                                                                  loss="anp.sum(zs ** 2)"))
    assert main(["check", "--problem", "p.py", "--methods", "backprop,adjoint"]) == 0
    assert os.getcwd() == str(tmp_path)


def test_grading_a_binary_file_says_it_is_not_python(tmp_path, capsys):
    (tmp_path / "ex1_rk4_step.py").write_bytes(b"\x7fELF\x00\x01")
    assert main(["exercise", "check", "1", str(tmp_path / "ex1_rk4_step.py")]) == 1
    out = capsys.readouterr().out
    assert "not Python source (source code string cannot contain null bytes)" in out and "line None" not in out


# --- 10. the terminal ------------------------------------------------------------------------------

def test_an_ascii_terminal_gets_ascii_symbols():
    status, out, err = run(*QUICK_CHECK, env={**ENV, "PYTHONIOENCODING": "ascii"})
    assert status == 0 and err == "" and out.isascii()
    assert "||a - b|| / max(||a||, ||b||)" in out and "?" not in out
