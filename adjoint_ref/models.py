"""Problems to run the methods on: a tanh-MLP Neural ODE and the built-in default problem.

Dynamics follow the seed's argument order f(z, θ, t) and are written with autograd.numpy.
"""
from collections import namedtuple

import autograd.numpy as anp
import numpy as np

Problem = namedtuple("Problem", ["f", "z0", "theta", "ts", "loss"])
Problem.__doc__ = """Everything `gradients` needs: dynamics f, initial state z0, parameters θ, times ts, loss."""


def mlp_init(dim, hidden, seed=0):
    """Parameters of `mlp_dynamics` for a dim → hidden → dim network, drawn from `seed`.

    Weights are scaled by 1/√(fan-in), so f is O(1) and the flow is neither stiff nor trivial.
    """
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(size=(dim, hidden)) / np.sqrt(dim),
        "b1": rng.normal(size=hidden) * 0.1,
        "c1": rng.normal(size=hidden),
        "W2": rng.normal(size=(hidden, dim)) / np.sqrt(hidden),
        "b2": rng.normal(size=dim) * 0.1,
    }


def mlp_dynamics(z, theta, t):
    """f(z, θ, t) = tanh(z W1 + t c1 + b1) W2 + b2 — a one-hidden-layer MLP that depends on t.

    z may be a vector (D,) or a batch (B, D); t enters through the weights c1.
    """
    hidden = anp.tanh(anp.dot(z, theta["W1"]) + t * theta["c1"] + theta["b1"])
    return anp.dot(hidden, theta["W2"]) + theta["b2"]


def default_problem(hidden=16, batch=4, t1=1.0, seed=0, dim=2, n_times=5):
    """The problem `adjoint-ref check` runs: a t-dependent tanh MLP, a loss on several times.

    z0 is a batch of `batch` states in `dim` dimensions (batch=0 gives one state of shape (dim,));
    ts = n_times equally spaced times on [0, t1]; the loss is half the squared distance between
    zs[1:] and fixed targets, all drawn from `seed`.
    """
    rng = np.random.default_rng(seed + 1)
    shape = (dim,) if batch == 0 else (batch, dim)
    z0 = rng.normal(size=shape)
    ts = np.linspace(0.0, t1, n_times)
    targets = rng.normal(size=(n_times - 1,) + shape)

    def loss(zs):
        return 0.5 * anp.sum((zs[1:] - targets) ** 2)

    return Problem(mlp_dynamics, z0, mlp_init(dim, hidden, seed), ts, loss)
