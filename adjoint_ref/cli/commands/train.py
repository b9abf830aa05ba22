"""`adjoint-ref train`: fit a Neural ODE to the spiral, then save the figure and θ."""
import argparse
import inspect
import os

from .. import figures, train
from ..._impl.files import FileError, OutputTaken, unused_path, unused_paths, write_together
from .options import (Terminated, UsageError, check_outputs, non_negative_int, number, output_folder, positive_float,
                      positive_int)

HELP = "fit a Neural ODE to a spiral with adjoint gradients and Adam"
DESCRIPTION = (
    "Fit a Neural ODE (an autonomous 2-H-2 tanh MLP) to a spiral: a damped pendulum observed at 300 "
    "times on [0, 15]. Each Adam iteration draws --batch random windows of --window consecutive "
    "observations, solves all windows from their first observation as one batch, and takes the "
    "gradient of their mean squared error (as torchdiffeq's demo does): short windows make each "
    "gradient cheap and avoid the poor local minima of fitting the whole spiral at once. The loss "
    "printed before and after is over all observed points (one solve from the first observation). "
    "Writes theta.npz and spiral_fit.png to --out, never replacing an earlier run's files unless "
    "--force. Ctrl-C stops cleanly and saves the parameters reached so far to theta.interrupted.npz "
    "in --out (a new name if that exists; never theta.npz); --load continues from it.")
# The keywords of `train.fit` and their defaults, which are the options' defaults (shown by %(default)s).
FIT = {name: p.default for name, p in inspect.signature(train.fit).parameters.items() if name != "log"}
OUTPUTS = ("theta.npz", "spiral_fit.png")
INTERRUPTED = "theta.interrupted.npz"


def parameter_file(text):
    """An argparse type: the path of a file `train.load_parameters` accepts (read once here to check it)."""
    try:
        train.load_parameters(text)
    except FileError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_arguments(parser):
    """The options of `adjoint-ref train`: every keyword of `train.fit`, and --out."""
    parser.description = DESCRIPTION
    parser.set_defaults(**FIT)
    parser.add_argument("--iters", type=non_negative_int,
                        help="Adam iterations (default %(default)s); 0 only evaluates and draws (with --load)")
    parser.add_argument("--seed", type=non_negative_int,
                        help="seed for the initial θ, the observation noise and the windows (default %(default)s)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--hidden", type=positive_int, help="hidden units of the MLP (default %(default)s)")
    size.add_argument("--load", metavar="NPZ", type=parameter_file,
                      help="start from parameters saved by an earlier run (its theta.npz or "
                           "theta.interrupted.npz) instead of a random θ; the file fixes the hidden size")
    parser.add_argument("--method", choices=("adjoint", "backprop"),
                        help="how dL/dθ is computed: the continuous adjoint (default) or backprop "
                             "through the RK4 steps, for comparison")
    parser.add_argument("--noise", type=number(float, lambda x: 0 <= x <= 10, "a number from 0 to 10"),
                        help="standard deviation of the Gaussian noise added to each observed coordinate, "
                             "at most 10 (the spiral's amplitude is 2.5; default %(default)s)")
    parser.add_argument("--batch", type=positive_int,
                        help="windows per iteration, at most the number of distinct windows "
                             f"({train.N_OBSERVATIONS} − window + 1; default %(default)s)")
    parser.add_argument("--window", type=number(int, lambda n: 2 <= n <= train.N_OBSERVATIONS,
                                                f"an integer from 2 to {train.N_OBSERVATIONS}"),
                        help="observation times per window, the first one included (default %(default)s, "
                             "i.e. 0.95 time units, about a sixth of an oscillation period)")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--steps", type=positive_int,
                       help="RK4 steps per observation interval (0.05 time units; default %(default)s)")
    steps.add_argument("--step-size", type=positive_float, metavar="H",
                       help="the longest RK4 step instead of --steps: ⌈0.05 / H⌉ steps per interval")
    parser.add_argument("--lr", type=number(float, lambda x: 0 < x <= 1, "a number in (0, 1]"),
                        help="Adam step size, in (0, 1] (default %(default)s)")
    parser.add_argument("--every", type=positive_int,
                        help="print a progress line every this many iterations (default %(default)s)")
    parser.add_argument("--out", default="train_out", type=output_folder,
                        help="folder for theta.npz and spiral_fit.png (default train_out/)")
    parser.add_argument("--force", action="store_true",
                        help="replace theta.npz and spiral_fit.png if --out holds them already")


def run(args):
    """Check the outputs and the windows, train, print the loss before and after, and write theta.npz
    and spiral_fit.png to --out together (`files.write_together`); on Ctrl-C or a termination signal,
    save the parameters reached (`save_interrupted`). If another run filled --out meanwhile, its files
    are kept and this run's go to free names beside them (`save_beside`)."""
    parameters, figure = (os.path.join(args.out, name) for name in OUTPUTS)
    check_outputs([parameters, figure], args.force)
    figures.load_matplotlib()
    try:
        train.check_settings(train.N_OBSERVATIONS, args.window, args.batch)
    except ValueError as err:
        raise UsageError(f"--window {args.window} with --batch {args.batch}: {err}") from None
    try:
        result = train.fit(**{name: getattr(args, name) for name in FIT})
    except train.Interrupted as stop:
        line = save_interrupted(stop, args.out)
        raise (Terminated(line, stop.cause.signum) if isinstance(stop.cause, Terminated) else
               KeyboardInterrupt(line)) from None
    before, after = result.checkpoints[0][1], result.checkpoints[-1][1]
    print(f"trajectory loss {before:.3e} -> {after:.3e} ({before / after:.1f}x lower) "
          f"in {result.seconds:.1f} s", flush=True)
    os.makedirs(args.out, exist_ok=True)
    writers = {parameters: train.parameters_writer(result.theta),
               figure: figures.png_writer(lambda: figures.draw_fit(result))}
    try:
        write_together(writers, replace=args.force)
    except OutputTaken as taken:
        raise UsageError(save_beside(taken, writers)) from None
    print(f"wrote {figure} and {parameters}")
    return 0


def save_beside(taken, writers):
    """Write the outputs of {path: write} to free names beside their paths (another run took some of
    the paths, `taken`: a `files.OutputTaken`); returns the line that says which run lost and where
    its results are."""
    while True:
        free = dict(zip(unused_paths(list(writers)), writers.values()))
        try:
            write_together(free, replace=False)
            break
        except OutputTaken:
            continue
    return f"{taken}; this run's results went to {' and '.join(free)} instead"


def save_interrupted(stop, out):
    """Save the parameters an interrupted run reached (train.Interrupted) to a new file in `out`, never
    to theta.npz; returns the line that says so."""
    if stop.iterations == 0:
        return f"{stop}; nothing saved"
    os.makedirs(out, exist_ok=True)
    while True:
        path = unused_path(os.path.join(out, INTERRUPTED))
        try:
            train.save_parameters(path, stop.theta, replace=False)
            break
        except OutputTaken:
            continue
    return f"{stop}; saved the parameters reached to {path} (continue with --load {path})"
