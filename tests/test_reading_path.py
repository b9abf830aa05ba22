"""The adjoint reads top to bottom: few frames between the user's call and a stage's f and VJPs.

`ar.gradients(..., method="adjoint")` reaches the call that gives f and its vector–Jacobian products at
one RK4 stage (`fast_vjp.vjp_of`'s f_and_pullback: autograd's make_vjp, or the replay of f's recording)
through the backward loop of `adjoint.adjoint_gradients`, one RK4 step and the augmented dynamics: each
frame is one idea a reader holds on the way down (issue 20 asks for at most 5).
"""
import inspect

import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref import adjoint, api
from adjoint_ref.problems.models import default_problem

MOST_FRAMES = 5


def frames_to_make_vjp(monkeypatch, **options):
    """The most frames, over every stage's call of a function `vjp_of` built, from api.gradients (counted)
    to that function (counted) in one small adjoint gradient."""
    counts, vjp_of = [], adjoint.vjp_of

    def counting_vjp_of(f):
        f_and_pullback = vjp_of(f)

        def standing_in(z, theta, t):  # at the depth of f_and_pullback, which it calls
            stack = inspect.stack(0)  # [this function, its caller, …, api.gradients, …]
            counts.append(1 + next(k for k, frame in enumerate(stack)
                                   if frame.function == "gradients" and frame.filename == api.__file__))
            return f_and_pullback(z, theta, t)

        return standing_in

    monkeypatch.setattr(adjoint, "vjp_of", counting_vjp_of)
    p = default_problem(hidden=3, batch=0, n_times=3)
    ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, method="adjoint", **{"n_steps": 2, **options})
    assert counts, "no stage called f and its VJPs"
    return max(counts)


def test_the_plain_adjoint_reaches_make_vjp_in_at_most_5_frames(monkeypatch):
    assert frames_to_make_vjp(monkeypatch) <= MOST_FRAMES


def test_a_running_cost_adds_one_frame(monkeypatch):  # with_running_cost's wrapper; shows the count can grow
    assert frames_to_make_vjp(monkeypatch, running_loss=lambda z, theta, t: np.sum(z ** 2)) == MOST_FRAMES + 1


@pytest.mark.parametrize("options", [dict(checkpoints=2), dict(solver="dopri5", n_steps=None, rtol=1e-4, atol=1e-6)])
def test_the_other_adjoints_are_counted_too(monkeypatch, options):
    """Reported, not bounded: the checkpointed and the dopri5 adjoint cross an interval in a helper."""
    assert frames_to_make_vjp(monkeypatch, **options) >= MOST_FRAMES  # 6 (checkpoints=K) and 8 (dopri5) today
