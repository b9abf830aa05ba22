"""`adjoint-ref bench`: the backward-stage profile, then the table of one gradient per method and step count."""
import os

from ...diagnostics import bench, compare
from .. import figures
from ..._impl.checkpoints import auto_checkpoints
from ...problems.models import default_problem
from ...problems.problem import as_problem
from ..._impl.tree import ravel_tree
from .options import UsageError, check_outputs, output_folder
from .problem import add_problem_option, label
from .progress import Progress, add_quiet_option

HELP = "measure time, memory, f evaluations and VJPs per gradient for each method and step count"


def add_arguments(parser):
    """The options of `adjoint-ref bench`: the problem, --quick, --stages, the figure's folder, --quiet."""
    add_problem_option(parser, mlp_options=())
    parser.add_argument("--quick", action="store_true",
                        help="10 and 100 steps only (instead of 10 to 10000) and fewer timing rounds: a smoke "
                             "test in a few seconds")
    parser.add_argument("--stages", action="store_true",
                        help="only profile one backward stage (CPU µs per call) and exit")
    parser.add_argument("--compare", action="store_true",
                        help="instead, compare every way to the gradient (backprop, discrete adjoint, adjoint, "
                             "checkpoints, forward sensitivities, dopri5 adjoint, reversible Heun) on the zoo's mlp, "
                             "lorenz and contracting problems: error against the exact gradient, peak memory, time "
                             "and f evaluations; then forward sensitivities against the adjoint as the parameters "
                             "and the state grow (a few minutes; --quick: seconds)")
    parser.add_argument("--out", default=None, type=output_folder,
                        help="also draw memory_vs_steps.png (with --compare: gradient_pareto.png) from the measured "
                             "rows into this folder (checked before measuring; e.g. --out figures --force to "
                             "refresh the gallery's figure; the default problem only)")
    parser.add_argument("--force", action="store_true", help="replace the figure if --out holds it")
    add_quiet_option(parser)


def print_stages(problem, quick):
    """Print the CPU microseconds per call of f and of one backward stage on `problem`."""
    times = bench.stage_times(problem, quick)
    print(f"backward stage (z0 {problem.z0.shape}, {ravel_tree(problem.theta).size} parameters), CPU µs per call, "
          "best of interleaved rounds:")
    for name, seconds in times.items():
        print(f"  {name:<60}{seconds * 1e6:>9.1f} µs")


def measured_table(measure, header, format_row, quiet):
    """Call measure(progress) under a progress line (unless quiet), print `header` and one line per
    row (format_row(row)), and return the rows."""
    with Progress(quiet) as progress:
        rows = measure(progress)
    print(header)
    for row in rows:
        print(format_row(row))
    return rows


def run(args):
    """Print the stage profile, then (unless --stages) the benchmark table and its ratios, and with --out
    draw its figure."""
    if args.compare:
        return run_compare(args)
    figure = None if args.out is None or args.stages else os.path.join(args.out, "memory_vs_steps.png")
    if figure and args.problem is not None:
        raise UsageError("--out draws the gallery's memory_vs_steps.png, which is measured on the default "
                         "problem; leave out --problem or --out")
    check_outputs([figure] if figure else [], args.force)
    if figure:
        figures.load_matplotlib()
    chosen = None if args.problem is None else as_problem(args.problem.make(), label(args.problem))
    print_stages(chosen or default_problem(), args.quick)
    if args.stages:
        return 0
    sizes = bench.QUICK_SIZES if args.quick else bench.SIZES
    p = chosen or bench.bench_problem()
    what = "the default problem on [0, 1]" if chosen is None else f"{label(args.problem)} ({len(p.ts)} times)"
    print(f"\none gradient of {what} (z0 {p.z0.shape}, {ravel_tree(p.theta).size} parameters) per method and "
          f"number of RK4 steps per interval; checkpointed = adjoint with ⌈√steps⌉ checkpoints "
          f"({', '.join(str(auto_checkpoints(n)) for n in sizes)}); reversible_heun = the adjoint of "
          f"solver='reversible_heun' (order 2, one f per step, the states rebuilt by inverting its steps). "
          f"ms/grad: CPU time; ×fwd: that over one forward solve; peak KiB: tracemalloc; VJPs: f evaluations "
          f"recorded by autograd (/step: per RK4 step; a backward stage replaying f's recording is not one); "
          f"rel.err: against the discrete adjoint at {2 * sizes[-1]} steps.\n", flush=True)
    rows = measured_table(lambda progress: bench.measure(args.quick, chosen, progress), bench.HEADER,
                          bench.format_row, args.quiet)
    print("\n" + "\n".join(bench.ratio_lines(rows, sizes)))
    print("\nthe same gradient with adaptive Dormand–Prince steps (rtol = atol; steps accepted/rejected and f "
          "evaluations of the forward pass and of the adjoint's backward pass, each backward evaluation with "
          "its VJP; rel.err against the same reference):\n")
    adaptive = bench.measure_adaptive(p, bench.ADAPTIVE_RTOLS[args.quick], bench.reference_gradient(args.quick, chosen))
    print("\n".join(bench.adaptive_lines(adaptive)))
    if figure:
        figures.render(["memory_vs_steps.png"], out=args.out, quick=args.quick, replace=args.force)
    return 0


def run_compare(args):
    """`bench --compare`: print the table of every way to the gradient on the zoo's problems and the
    crossover of forward sensitivities and the adjoint; with --out draw gradient_pareto.png."""
    if args.problem is not None or args.stages:
        raise UsageError("--compare runs its own problems (the zoo's " + ", ".join(compare.PROBLEMS) + ") and no "
                         "stage profile; leave out " + ("--problem" if args.problem is not None else "--stages"))
    figure = None if args.out is None else os.path.join(args.out, "gradient_pareto.png")
    check_outputs([figure] if figure else [], args.force)
    print(f"one gradient per way and setting: RK4 steps per observation interval (reversible Heun: "
          f"{compare.SAME_EVALUATIONS} times as many steps, one f each), or rtol = atol for dopri5; checkpointed = "
          f"adjoint with ⌈√steps⌉ checkpoints. ms/grad: CPU time, best of rounds; peak KiB: tracemalloc; f evals: "
          f"all evaluations of f, with or without a VJP; rel.err of (dL/dz0, dL/dθ, dL/dts) against the discrete "
          f"adjoint at {compare.REFERENCE_STEPS[args.quick]} RK4 steps per interval. Times come from one run on a "
          f"shared machine: compare them within this run only.\n", flush=True)
    measured_table(lambda progress: compare.measure(args.quick, progress), compare.HEADER, compare.format_row,
                   args.quiet)
    print("\nforward sensitivities against the adjoint on the MLP (one interval [0, 1], 20 RK4 steps), as the "
          "parameters (hidden units) and the state (batch × dimension) grow; ratio = forward sensitivity time / "
          "adjoint time, measured side by side:\n", flush=True)
    print("\n".join(compare.crossover_lines(compare.crossover(args.quick))))
    if figure:
        figures.render(["gradient_pareto.png"], out=args.out, quick=args.quick)
    return 0
