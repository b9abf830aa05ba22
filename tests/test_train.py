"""`adjoint-ref train`: Adam on adjoint gradients lowers the loss; θ round-trips through .npz.

The spiral data are checked against the closed-form damped oscillator, which the pendulum
becomes at small angles.
"""
import inspect
import os
import re

import matplotlib
import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref.cli import train
from adjoint_ref._impl.files import FileError
from adjoint_ref.cli import build_parser, main
from adjoint_ref.problems.models import PENDULUM, spiral_data


def tiny_fit(method="adjoint", seed=0, iters=20):
    """20 Adam steps on a 2-8-2 MLP and 60 observations: well under a second."""
    data = spiral_data(n_times=60, t1=6.0, noise=0.01, seed=seed)
    return train.train(data, train.initial_parameters(8, seed), iters, batch=8, window=5, n_steps=1,
                       step_size=0.01, method=method, seed=seed, every=iters, log=lambda line: None)


def test_spiral_data_is_the_damped_oscillator_at_small_angles():
    # sin z₁ = z₁ − z₁³/6: at amplitude a = 1e-3 the pendulum differs from the linear oscillator by
    # a relative force of a²/6 ≈ 2e-7, and the trajectories by about as much (measured 1.6e-7, and
    # 1.6e-5 at a = 1e-2: it scales as a²). RK4 with h = 0.005 adds ~1e-12. A wrong sign or factor
    # in either coordinate gives O(1) errors.
    a = 1e-3
    data = spiral_data(z0=(a, 0.0))
    omega2, gamma = PENDULUM
    omega_d = np.sqrt(omega2 - gamma ** 2 / 4)
    decay = a * np.exp(-gamma * data.ts / 2)
    angle = decay * (np.cos(omega_d * data.ts) + gamma / (2 * omega_d) * np.sin(omega_d * data.ts))
    velocity = -decay * omega2 / omega_d * np.sin(omega_d * data.ts)
    exact = np.stack([angle, velocity], axis=1)
    assert np.linalg.norm(data.zs - exact) / np.linalg.norm(exact) < 1e-6
    assert np.array_equal(data.observed, data.zs)  # noise 0 by default


def test_noise_has_the_requested_size():
    data = spiral_data(noise=0.1, seed=3)
    residual = data.observed - data.zs
    # 600 N(0, 0.01) draws: the sample standard deviation is within 10% of 0.1 with overwhelming odds
    # (its relative standard error is 1/√1200 ≈ 3%).
    assert abs(residual.std() - 0.1) < 0.01


@pytest.mark.parametrize("method", ["adjoint", "backprop"])
def test_a_few_iterations_lower_the_loss(method):
    fit = tiny_fit(method)
    (_, before), (last, after) = fit.checkpoints[0], fit.checkpoints[-1]
    assert last == 20 and len(fit.history) == 20
    # Measured over seeds 0-3: 20 steps lower the loss over all points 20-50x. A quarter leaves a wide
    # margin, and a gradient with the wrong sign or scale would raise it instead.
    assert after < before / 4
    assert np.all(fit.theta["c1"] == 0)  # the autonomous learner never moves its time weights


def test_same_seed_same_numbers_other_seed_other_numbers():
    first, again, other = tiny_fit(iters=3), tiny_fit(iters=3), tiny_fit(seed=1, iters=3)
    assert first.history == again.history and first.checkpoints == again.checkpoints
    assert all(np.array_equal(first.theta[k], again.theta[k]) for k in train.PARAMETER_NAMES)
    assert first.history != other.history


def test_parameters_round_trip(tmp_path):
    theta = train.initial_parameters(5, seed=2)
    theta["c1"] = np.arange(5.0)
    path = tmp_path / "theta.npz"
    train.save_parameters(path, theta)
    loaded = train.load_parameters(path)
    assert sorted(loaded) == sorted(theta)
    for name in train.PARAMETER_NAMES:
        assert loaded[name].dtype == np.float64 and np.array_equal(loaded[name], theta[name])


def write_bad_file(folder, kind):
    """A file `train --load` must refuse, of the given kind; returns its path."""
    path = folder / f"{kind}.npz"
    theta = train.initial_parameters(4, seed=0)
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":  # reading it would block: it must be refused before it is opened
        os.mkfifo(path)
    elif kind == "npy":
        np.save(folder / "npy.npy", theta["W1"])
        path = folder / "npy.npy"
    elif kind == "text":
        path.write_text("W1 = 1.0\n")
    elif kind == "truncated":
        train.save_parameters(path, theta)
        path.write_bytes(path.read_bytes()[:-40])
    elif kind == "pickle":
        np.savez(path, **{**theta, "W1": np.array([{"W1": 1.0}], dtype=object)})
    elif kind == "other keys":
        np.savez(path, W=np.zeros(3))
    elif kind == "strings":
        np.savez(path, **{**theta, "b2": np.array(["0.1", "0.2"])})
    elif kind == "other shapes":
        np.savez(path, **{**theta, "W2": np.zeros((3, 2))})
    elif kind == "NaN":
        np.savez(path, **{**theta, "c1": np.full(4, np.nan)})
    return path


BAD_FILES = {  # kind → what the error says after the path
    "missing": "no such file",
    "folder": "is a folder, not an .npz file",
    "fifo": "not a regular file",
    "npy": "an .npy file (one unnamed array), not an .npz archive",
    "text": "not an .npz file (it does not start like a zip archive)",
    "truncated": "a damaged or truncated .npz file",
    "pickle": "pickled Python objects, which are never loaded",
    "other keys": "expected the arrays W1, b1, c1, W2, b2, found W",
    "strings": "arrays of real numbers expected, got b2 (<U3)",
    "other shapes": "shapes do not form a 2 → hidden → 2 MLP: W2 (3, 2)",
    "NaN": "non-finite values (NaN or inf) in c1 (4)",
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_loading_a_bad_file_says_which_check_failed(tmp_path, kind):
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    path = write_bad_file(tmp_path, kind)
    with pytest.raises(FileError) as info:
        train.load_parameters(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and BAD_FILES[kind] in message and "allow_pickle" not in message


def test_saving_replaces_the_file_whole_or_not_at_all(tmp_path, monkeypatch):
    # A write that fails half-way (a full disk, Ctrl-C) leaves the earlier file and no temporary file.
    path = tmp_path / "theta.npz"
    theta = train.initial_parameters(4, seed=0)
    train.save_parameters(path, theta)
    earlier = path.read_bytes()

    def fail_half_way(handle, **arrays):
        handle.write(b"PK half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", fail_half_way)
    with pytest.raises(KeyboardInterrupt):
        train.save_parameters(path, train.initial_parameters(4, seed=1))
    assert path.read_bytes() == earlier and os.listdir(tmp_path) == ["theta.npz"]


def test_interrupted_training_keeps_the_parameters_reached(monkeypatch):
    # Ctrl-C in the 4th gradient: the parameters after 3 Adam steps come with the exception.
    data, theta = spiral_data(n_times=60, t1=6.0), train.initial_parameters(4, 0)
    three = train.train(data, theta, 3, 4, 5, 1, 0.01, every=100, log=lambda line: None).theta
    done = []

    def interrupt_the_fourth(*args, **kwargs):
        if len(done) == 3:
            raise KeyboardInterrupt
        done.append(1)
        return ar.gradients(*args, **kwargs)

    monkeypatch.setattr(train, "gradients", interrupt_the_fourth)
    with pytest.raises(train.Interrupted, match="interrupted after 3 of 10 Adam iterations") as info:
        train.train(data, theta, 10, 4, 5, 1, 0.01, every=100, log=lambda line: None)
    assert info.value.iterations == 3
    assert all(np.array_equal(info.value.theta[k], three[k]) for k in train.PARAMETER_NAMES)


@pytest.mark.parametrize("window, batch, word", [(1, 4, "window"), (61, 4, "window"), (5, 57, "batch")])
def test_impossible_windows_are_refused(window, batch, word):
    data = spiral_data(n_times=60)
    with pytest.raises(ValueError, match=word):
        train.train(data, train.initial_parameters(4, 0), 1, batch, window, 1, 0.01, log=lambda line: None)


def test_fit_takes_the_command_options_as_keywords_with_their_defaults():
    options = vars(build_parser().parse_args(["train"]))
    keywords = inspect.signature(train.fit).parameters
    assert {name: options[name] for name in keywords if name != "log"} == \
        {name: p.default for name, p in keywords.items() if name != "log"}
    lines = []
    fit = train.fit(iters=2, hidden=3, batch=2, window=3, every=1, log=lines.append)
    assert fit.theta["b1"].shape == (3,) and len(fit.history) == 2 and fit.n_steps == 1
    assert "MLP 2-3-2" in lines[0] and "2 windows of 3 times" in lines[0]


def final_losses(out):
    return [float(x) for x in re.search(r"trajectory loss (\S+) -> (\S+)", out).groups()]


def matplotlib_settings():
    """rcParams with the backend, read without resolving an automatic backend."""
    return dict(dict.items(matplotlib.rcParams))


def test_command_trains_saves_and_reloads(tmp_path, capsys):
    options = ["--hidden", "4", "--batch", "3", "--window", "4", "--every", "1"]
    before = matplotlib_settings()
    assert main(["train", "--iters", "3", "--out", str(tmp_path / "a")] + options) == 0
    assert matplotlib_settings() == before  # drawing spiral_fit.png leaves matplotlib as found
    out = capsys.readouterr().out
    assert "iter     3/3" in out and "s elapsed" in out and "s remaining" in out
    assert sorted(os.listdir(tmp_path / "a")) == ["spiral_fit.png", "theta.npz"]
    _, trained = final_losses(out)
    # --iters 0 from the saved θ only evaluates: it must reproduce the trained loss exactly.
    load = ["train", "--iters", "0", "--load", str(tmp_path / "a" / "theta.npz"), "--out", str(tmp_path / "b")]
    assert main(load) == 0
    assert final_losses(capsys.readouterr().out) == [trained, trained]


@pytest.mark.parametrize("bad", [["--hidden", "4", "--load", "x.npz"], ["--noise", "-1"], ["--lr", "0"],
                                 ["--method", "finite_differences"], ["--iters", "-1"]])
def test_bad_options_are_rejected(bad, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train"] + bad)
    assert info.value.code == 2
    assert bad[-2] in capsys.readouterr().err


def test_step_size_sets_the_steps_per_interval():
    # the observations are 15/299 ≈ 0.0502 apart: --step-size 0.02 means ⌈2.51⌉ = 3 RK4 steps per interval
    lines = []
    result = train.fit(iters=0, hidden=2, step_size=0.02, log=lines.append)
    assert result.n_steps == 3 and "3 RK4 step(s) per interval" in lines[0]
