"""The adaptive step-size controller (`adaptive`), pinned step by step against scipy's `RK45`.

Both implement the same controller on the same Dormand–Prince 5(4) tableau: the error estimate
h Σ (b − b̂) k measured in the RMS norm against atol + rtol·max(|z|, |z_new|), a step accepted when
that ratio is at most 1, the next step h·0.9·ratio^(−1/5) clamped to [0.2, 10] (and not enlarged right
after a rejection), and Hairer's first step. So on one observation interval the accepted steps must
be the same, up to rounding, and each test below compares the accepted times.

Deliberate differences, and how the comparison allows for them:
- adjoint_ref steps exactly to every observation time (so that backprop and the adjoint see the
  solution there, not an interpolant); scipy only stops at t_bound. Hence one interval [t0, t1] here.
- At the end of an interval a step that would stop within 1 % of itself short of t1 is stretched to
  reach it (as in Hairer's code); scipy takes the short step and then a tiny one. Hence the last
  accepted step is left out of the comparison, and scipy may take one step more.
- scipy caps the first step at the length of the interval; adjoint_ref clips the step to the interval
  instead (the same step; the proposal carries on to the next interval). Hairer's first step is far
  shorter than the interval here, so the cap never acts.
- After a step clipped to end at an observation time, adjoint_ref does not shrink the proposal for the
  next interval (a forced short step says nothing about the error); on one interval that step is the last.
- A step is accepted at error ratio ≤ 1 here, < 1 in scipy: they differ only at equality.

Three one-place bugs once passed the whole suite, changing the step count but not the accuracy
enough for a loose test to notice: the exponent −1/p for −1/(p+1), rtol and atol swapped, the
Euclidean norm for the RMS norm. Each makes `test_accepted_steps_are_scipys` fail (tests/test_mutants.py
applies them). States of size ~1e-3 and ~1e3 with rtol ≠ atol make both tolerances matter, and a batch
(several entries) tells the RMS norm from the Euclidean one.
"""
import numpy as np
import pytest
from scipy.integrate import RK45

from adjoint_ref import adaptive
from adjoint_ref.problems.models import default_problem

T0, T1 = 0.0, 2.0
# (scale of the state, batch, rtol, atol): atol comparable with rtol·|z| in each, so that both count
CASES = {"small state, batch": (1e-3, 4, 1e-6, 1e-10), "large state, batch": (1e3, 4, 1e-7, 1e-5),
         "unit state, one vector": (1.0, 0, 1e-8, 1e-6)}


def scaled(scale, batch):
    """The default problem's t-dependent tanh MLP for the state scale·z: f_s(z) = scale·f(z / scale)."""
    p = default_problem(batch=batch)

    def f(z, theta, t):
        return scale * p.f(z / scale, theta, t)

    return f, scale * p.z0, p.theta


def our_times(f, z0, theta, rtol, atol):
    """The accepted times of `adaptive.adaptive_integrate` on [T0, T1]."""
    controller = adaptive.Adaptive(rtol, atol)
    adaptive.adaptive_integrate(f, z0, theta, np.array([T0, T1]), controller)
    return T0 + (T1 - T0) * np.cumsum(controller.fractions[0])


def scipy_times(f, z0, theta, rtol, atol):
    """The accepted times of scipy's RK45 on [T0, T1], the state flattened."""
    solver = RK45(lambda t, y: np.ravel(f(y.reshape(z0.shape), theta, t)), T0, np.ravel(z0), T1, rtol=rtol, atol=atol)
    times = []
    while solver.status == "running":
        solver.step()
        times.append(solver.t)
    return np.array(times)


def assert_steps_match_scipy(case):
    """The accepted times agree with scipy's to rounding, all but the last step (module docstring)."""
    f, z0, theta = scaled(*CASES[case][:2])
    ours, theirs = our_times(f, z0, theta, *CASES[case][2:]), scipy_times(f, z0, theta, *CASES[case][2:])
    assert len(ours) >= 8, ours  # enough steps for the controller to show
    assert len(theirs) - len(ours) in (0, 1), (len(ours), len(theirs))
    np.testing.assert_allclose(ours[:-1], theirs[:len(ours) - 1], rtol=1e-10, atol=0)
    assert ours[-1] == T1 and theirs[-1] == T1


@pytest.mark.parametrize("case", list(CASES))
def test_accepted_steps_are_scipys(case):
    assert_steps_match_scipy(case)


def assert_all_cases_match_scipy():
    """`assert_steps_match_scipy` on every case (what tests/test_mutants.py runs against a mutant)."""
    for case in CASES:
        assert_steps_match_scipy(case)
