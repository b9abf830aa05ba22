"""The rows of `adjoint-ref equations` say exactly what they compute (issue 25).

On a problem with several observation times no row may use the one-interval notation of the post
(t1 for the last time, a single bracket for a sum of jumps); a row for a quantity that must vanish says
what it is measured "relative to", a row that compares two sides says "vs", and no row uses one word
for the other. And the reason eq. (4)'s row catches a sign error: with ψ = L + ∫ λF dt, dψ/dε along
the varied path is 2·dL/dε, not 0.
"""
import re

import numpy as np
import pytest

from adjoint_ref import lagrangian as lg
from adjoint_ref.diagnostics import equations
from adjoint_ref.problems.models import default_problem


def quiet(_):
    pass


@pytest.fixture(scope="module")
def ev():
    """Four observation times (three intervals), 4 RK4 steps: the cheapest multi-time evaluation."""
    return equations.evaluate(default_problem(hidden=3, batch=2, n_times=4), 4, log=quiet)


def test_no_row_uses_one_interval_notation(ev):
    for row in equations.equation_rows(ev):
        assert not re.search(r"t1\b|\(t1\)|_t1", row.what), row.what


def test_vs_compares_and_relative_to_normalises(ev):
    for row in equations.equation_rows(ev):
        if row.b == 0.0:  # a quantity that must vanish (`equations.vanishing`): measured against a scale
            assert "relative to" in row.what and " vs " not in row.what, row.what
        else:  # two sides compared (`equations.compared`)
            assert " vs " in row.what and "relative to" not in row.what, row.what


def test_a_sign_error_in_eq4_makes_dpsi_twice_dL(ev, monkeypatch):
    dpsi, dL = equations.stationarity(ev)
    tol = 5e-5  # O(h⁴) of the path and O(δ⁴) of the differences in ε: observed 5e-6 of dL/dε at h = 1/12
    assert abs(dpsi) < tol * abs(dL)  # the adjoint λ makes ψ stationary
    monkeypatch.setattr(lg, "eq4_lagrangian",
                        lambda loss, lam, F, t: loss + lg.integral(np.sum(lam * F, axis=-1), t))
    wrong, _ = equations.stationarity(ev)
    assert abs(wrong - 2 * dL) < tol * abs(dL)  # + ∫ λF adds dL/dε instead of cancelling it
