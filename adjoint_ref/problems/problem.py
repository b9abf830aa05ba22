"""`Problem`: one gradient problem as a value, the unit that `adjoint-ref check --problem` loads.

A problem is what `gradients` and `check` take: the dynamics f(z, θ, t), the initial state z0, the
parameters θ, the observation times ts and the loss L(zs). The built-in problems (`models`, `zoo`)
and a user's own file (`adjoint-ref check --problem FILE.py`) both hand one over as a `Problem`.
"""
from collections import namedtuple

from .._impl import validate

Problem = namedtuple("Problem", ["f", "z0", "theta", "ts", "loss"])
Problem.__doc__ = """A gradient problem: dynamics f(z, theta, t), initial state z0, parameters theta (an array
or a list/tuple/dict of arrays), observation times ts and a scalar loss(zs) with zs[i] = z(ts[i]).

    p = Problem(f, z0, theta, ts, loss)
    ar.check(p.loss, p.f, p.z0, p.theta, p.ts, n_steps=20)"""


def as_problem(value, source):
    """`value`, a `Problem`, with z0, θ and ts as float64 arrays once f, z0, θ, ts and loss pass
    validation (f is called once at (z0, θ, ts[0])); otherwise a TypeError (not a Problem) or a
    ValueError (invalid contents) whose message starts with `source`."""
    if not isinstance(value, Problem):
        raise TypeError(f"{source} returned {type(value).__name__}, not an adjoint_ref.Problem(f, z0, theta, ts, "
                        "loss)")
    try:
        z0, theta, ts = validate.inputs(value.f, value.z0, value.theta, value.ts)
        if not callable(value.loss):
            raise TypeError(f"loss must be callable as loss(zs), got {type(value.loss).__name__}")
    except Exception as err:  # f is the user's code and may raise anything
        raise ValueError(f"{source} returned a Problem that does not validate: {type(err).__name__}: "
                         f"{err}") from None
    return Problem(value.f, z0, theta, ts, value.loss)
