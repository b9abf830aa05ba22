"""`adjoint-ref bench`: the counters count exactly, the backward RK4 stages replay one recording of f, and
`bench --quick` runs and prints every column."""
import autograd.core
import pytest

import adjoint_ref as ar
from adjoint_ref._impl import fast_vjp
from adjoint_ref._impl.tree import ravel_tree
from adjoint_ref.diagnostics.bench import CountedDynamics
from adjoint_ref.cli import main
from adjoint_ref.problems.models import default_problem

N, M = 6, 2  # RK4 steps per interval, observation intervals
K = 4  # checkpoints: segments of 1, 2, 1 and 2 steps; the sweep placing them covers all but the last
Z, P = 8, 3 * 2 + 3 + 3 + 3 * 2 + 2  # sizes of z0 (4 × 2) and θ (2-3-2 MLP: W1, b1, c1, W2, b2)

# f evaluations = 1 (input check) + 4NM (forward pass) + what the backward pass adds; VJPs = evaluations
# that autograd records to reverse. Derived from the algorithms, not measured.
# The 4NM backward stages of the adjoints evaluate f once each (`fast_vjp.vjp_of`): the first records f,
# the others replay that tape and call f once to check it. Recording the default MLP (a primitive taking
# θ whole) takes two recorded evaluations: with θ's leaves as inputs (refused), then with θ whole.
RECORDED = 2
STAGES = 4 * N * M + RECORDED - 1
EXPECTED = {
    # + 1 + (M − 1) for dL/dts at the observation times, + 1 at t0 (the drift check's rate at the
    # start of the first interval), + the stages
    ("adjoint", None): (1 + 4 * N * M + M + 1 + STAGES, RECORDED),
    # + the checkpoint sweep (4 of 6 steps) and the half-step recompute (2N steps) per interval
    ("adjoint", K): (1 + 4 * N * M + M + M * (4 * 4 + 4 * 2 * N) + STAGES, RECORDED),
    # + the step states recomputed per interval (4NM), + the stages
    ("discrete_adjoint", None): (1 + 4 * N * M + 4 * N * M + STAGES, RECORDED),
    # the forward pass itself is recorded, + 4 recorded stages: the memory guard measures one step of f
    ("backprop", None): (1 + 4 * N * M + 4, 4 * N * M + 4),
    # + 2 forward passes per entry of z0, θ and ts
    ("finite_differences", None): (1 + 4 * N * M + 2 * (Z + P + M + 1) * 4 * N * M, 0),
}


@pytest.mark.parametrize("method, checkpoints", list(EXPECTED), ids=[f"{m}-{k}" for m, k in EXPECTED])
def test_counters_count_exactly(method, checkpoints, monkeypatch):
    p = default_problem(hidden=3, n_times=M + 1)
    make_vjp_calls = []

    def counting_make_vjp(fun, x):
        make_vjp_calls.append(fun)
        return autograd.core.make_vjp(fun, x)

    monkeypatch.setattr(fast_vjp, "make_vjp", counting_make_vjp)
    f = CountedDynamics(p.f)
    ar.gradients(p.loss, f, p.z0, p.theta, p.ts, N, method, checkpoints=checkpoints)
    assert (f.evaluations, f.vjps) == EXPECTED[method, checkpoints]
    if method in ("adjoint", "discrete_adjoint"):  # no backward stage traced by make_vjp: recorded, then replayed
        assert make_vjp_calls == []



def test_counting_does_not_change_the_gradient():
    p = default_problem(hidden=3)
    plain = ar.gradients(p.loss, p.f, p.z0, p.theta, p.ts, 3)
    counted = ar.gradients(p.loss, CountedDynamics(p.f), p.z0, p.theta, p.ts, 3)
    assert (plain.z0 == counted.z0).all() and (plain.ts == counted.ts).all()


def test_bench_quick_prints_every_column(capsys, tmp_path):
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for word in ("backward stage", "hand-written VJP", "µs", "ms/grad", "×fwd", "peak KiB", "f evals", "VJPs",
                 "/step", "rel.err", "peak memory at 100 steps / at 10 steps", "adjoint time / backprop time"):
        assert word in out, word
    rows = [cells for cells in map(str.split, out.splitlines()) if len(cells) > 1 and cells[1].isdigit()]
    assert {(r[0], r[1]) for r in rows} >= {(m, n) for m in ("adjoint", "checkpointed", "discrete_adjoint", "backprop")
                                            for n in ("10", "100")}
    for r in rows:
        if r[2] != "skipped:":
            assert len(r) == 9, r  # method, steps and the seven measured columns
    assert (tmp_path / "memory_vs_steps.png").stat().st_size > 0


def test_bench_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert "--quick" in out and "--stages" in out and "--out" in out


def test_bench_stages_only_profiles_the_stage(capsys):
    assert main(["bench", "--stages", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "backward stage, f with hand-written VJP (mlp_dynamics)" in out and "ms/grad" not in out
    assert "backward stage, f replayed from its tape (mlp_formula)" in out


def test_bench_quick_leaves_the_gallery_alone(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--quick"]) == 0
    assert not (tmp_path / "figures").exists()


def test_bench_compare_quick_prints_every_way_on_every_problem_and_draws_the_figure(capsys, tmp_path):
    from adjoint_ref.diagnostics import compare

    assert main(["bench", "--compare", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {(line[:12].strip(), line[12:33].strip()) for line in out.splitlines() if line[:12].strip() in compare.PROBLEMS}
    assert rows == {(problem, way) for problem in compare.PROBLEMS for way in compare.WAYS}
    for word in ("ms/grad", "peak KiB", "f evals", "rel.err", "no correct digit", "fails: ", "state size", "ratio"):
        assert word in out, word
    assert (tmp_path / "gradient_pareto.png").stat().st_size > 0


def test_bench_compare_refuses_a_problem_in_one_line(capsys):
    assert main(["bench", "--compare", "--problem", "lorenz"]) == 2
    assert "--compare runs its own problems" in capsys.readouterr().err
