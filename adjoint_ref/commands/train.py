"""`adjoint-ref train`: fit a Neural ODE to the spiral, then save the figure and θ."""
import inspect
import os

from .. import figures, train
from .options import non_negative_float, non_negative_int, positive_float, positive_int

HELP = "fit a Neural ODE to a spiral with adjoint gradients and Adam"
DESCRIPTION = (
    "Fit a Neural ODE (an autonomous 2-H-2 tanh MLP) to a spiral: a damped pendulum observed at 300 "
    "times on [0, 15]. Each Adam iteration draws --batch random windows of --window consecutive "
    "observations, solves all windows from their first observation as one batch, and takes the "
    "gradient of their mean squared error (as torchdiffeq's demo does): short windows make each "
    "gradient cheap and avoid the poor local minima of fitting the whole spiral at once. The loss "
    "printed before and after is over all observed points (one solve from the first observation). "
    "Writes spiral_fit.png and theta.npz to --out.")
# The keywords of `train.fit` and their defaults, which are the options' defaults (shown by %(default)s).
FIT = {name: p.default for name, p in inspect.signature(train.fit).parameters.items() if name != "log"}


def add_arguments(parser):
    """The options of `adjoint-ref train`: every keyword of `train.fit`, and --out."""
    parser.description = DESCRIPTION
    parser.set_defaults(**FIT)
    parser.add_argument("--iters", type=non_negative_int,
                        help="Adam iterations (default %(default)s); 0 only evaluates and draws (with --load)")
    parser.add_argument("--seed", type=int,
                        help="seed for the initial θ, the observation noise and the windows (default %(default)s)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--hidden", type=positive_int, help="hidden units of the MLP (default %(default)s)")
    size.add_argument("--load", metavar="NPZ",
                      help="start from parameters saved by an earlier run (its theta.npz) instead of a "
                           "random θ; the file fixes the hidden size")
    parser.add_argument("--method", choices=("adjoint", "backprop"),
                        help="how dL/dθ is computed: the continuous adjoint (default) or backprop "
                             "through the RK4 steps, for comparison")
    parser.add_argument("--noise", type=non_negative_float,
                        help="standard deviation of the Gaussian noise added to each observed coordinate "
                             "(default %(default)s)")
    parser.add_argument("--batch", type=positive_int, help="windows per iteration (default %(default)s)")
    parser.add_argument("--window", type=positive_int,
                        help="observation times per window, the first one included (default %(default)s, "
                             "i.e. 0.95 time units, about a sixth of an oscillation period)")
    parser.add_argument("--steps", type=positive_int,
                        help="RK4 steps per observation interval (0.05 time units; default %(default)s)")
    parser.add_argument("--lr", type=positive_float, help="Adam step size (default %(default)s)")
    parser.add_argument("--every", type=positive_int,
                        help="print a progress line every this many iterations (default %(default)s)")
    parser.add_argument("--out", default="train_out",
                        help="folder for spiral_fit.png and theta.npz (default train_out/)")


def run(args):
    """Train, print the loss before and after, and write spiral_fit.png and theta.npz to --out."""
    result = train.fit(**{name: getattr(args, name) for name in FIT})
    before, after = result.checkpoints[0][1], result.checkpoints[-1][1]
    print(f"trajectory loss {before:.3e} -> {after:.3e} ({before / after:.1f}x lower) "
          f"in {result.seconds:.1f} s")
    os.makedirs(args.out, exist_ok=True)
    figure, parameters = os.path.join(args.out, "spiral_fit.png"), os.path.join(args.out, "theta.npz")
    figures.draw_and_save(lambda: figures.draw_fit(result), figure)
    train.save_parameters(parameters, result.theta)
    print(f"wrote {figure} and {parameters}")
    return 0
