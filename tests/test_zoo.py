"""The problem zoo: `adjoint-ref check --problem NAME` passes on every problem with its own defaults.

Each zoo problem's default steps were chosen so that every method agrees with backprop to the default
tolerance 1e-6 (within 2–8× here); the problems that get checkpoints really need them.
"""
import pytest

import adjoint_ref as ar
from adjoint_ref.cli import main
from adjoint_ref._impl.metrics import relative_difference
from adjoint_ref.problems.zoo import ZOO


@pytest.mark.parametrize("name", list(ZOO))
def test_check_passes_on_every_zoo_problem_with_its_defaults(name, capsys):
    assert main(["check", "--problem", name, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"adjoint-ref check: {name}: {ZOO[name].description}\n")
    assert f"{ZOO[name].n_steps} RK4 steps per observation interval" in out and "verdict (agree)" in out


@pytest.mark.parametrize("name", [name for name, entry in ZOO.items() if entry.checkpoints])
def test_the_problems_given_checkpoints_need_them(name):
    p, n_steps = ZOO[name].make(), ZOO[name].n_steps
    with pytest.warns(ar.AdjointDriftWarning):
        plain = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps)
    exact = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, n_steps, "discrete_adjoint")
    assert relative_difference(plain.theta, exact.theta) > 1e-6  # above check's tolerance


def test_zoo_problems_are_problems_with_one_line_descriptions(capsys):
    for name, entry in ZOO.items():
        problem = entry.make()
        assert isinstance(problem, ar.Problem) and "\n" not in entry.description
        assert entry.n_steps % 2 == 0 and entry.n_steps >= 4  # `equations` needs even steps ≥ 4
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    help_text = capsys.readouterr().out
    assert all(f"  {name:<16} {entry.description} [{entry.n_steps} steps]" in help_text for name, entry in ZOO.items())
