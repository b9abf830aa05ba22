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

from adjoint_ref import train
from adjoint_ref.cli import build_parser, main
from adjoint_ref.models import PENDULUM, spiral_data


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


def test_loading_something_else_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", W=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz.*expected arrays"):
        train.load_parameters(tmp_path / "other.npz")
    theta = train.initial_parameters(4, seed=0)
    theta["W2"] = np.zeros((3, 2))
    train.save_parameters(tmp_path / "bad.npz", theta)
    with pytest.raises(ValueError, match="bad.npz.*W2"):
        train.load_parameters(tmp_path / "bad.npz")


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
