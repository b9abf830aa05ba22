"""The adjoint reads top to bottom: few frames between the user's call and the one make_vjp of a stage.

`ar.gradients(..., method="adjoint")` reaches autograd's make_vjp through the backward loop of
`adjoint.adjoint_gradients`, one RK4 step, the augmented dynamics and `vjp_of`'s f_and_pullback: each
frame is one idea a reader holds on the way down (issue 20 asks for at most 5).
"""
import inspect

import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref import api
from adjoint_ref._impl import fast_vjp
from adjoint_ref.problems.models import default_problem

MOST_FRAMES = 5


def frames_to_make_vjp(monkeypatch, **options):
    """The most frames, over every make_vjp call of `vjp_of`, from api.gradients (counted) to the caller
    of make_vjp (counted) in one small adjoint gradient."""
    counts, make_vjp = [], fast_vjp.make_vjp

    def recording(*args, **kwargs):
        stack = inspect.stack(0)  # [this wrapper, the caller of make_vjp, …, api.gradients, …]
        entry = next(k for k, frame in enumerate(stack)
                     if frame.function == "gradients" and frame.filename == api.__file__)
        counts.append(entry)  # frames 1 … entry: the caller of make_vjp up to gradients
        return make_vjp(*args, **kwargs)

    monkeypatch.setattr(fast_vjp, "make_vjp", recording)
    p = default_problem(hidden=3, batch=0, n_times=3)
    ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, method="adjoint", **{"n_steps": 2, **options})
    assert counts, "make_vjp was not called"
    return max(counts)


def test_the_plain_adjoint_reaches_make_vjp_in_at_most_5_frames(monkeypatch):
    assert frames_to_make_vjp(monkeypatch) <= MOST_FRAMES


def test_a_running_cost_adds_one_frame(monkeypatch):  # with_running_cost's wrapper; shows the count can grow
    assert frames_to_make_vjp(monkeypatch, running_loss=lambda z, theta, t: np.sum(z ** 2)) == MOST_FRAMES + 1


@pytest.mark.parametrize("options", [dict(checkpoints=2), dict(solver="dopri5", n_steps=None, rtol=1e-4, atol=1e-6)])
def test_the_other_adjoints_are_counted_too(monkeypatch, options):
    """Reported, not bounded: the checkpointed and the dopri5 adjoint cross an interval in a helper."""
    assert frames_to_make_vjp(monkeypatch, **options) >= MOST_FRAMES  # 6 (checkpoints=K) and 8 (dopri5) today
