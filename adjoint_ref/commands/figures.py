"""`adjoint-ref figures`: draw the registered figures into a folder."""
from .. import figures

HELP = "regenerate the figure gallery (PNG files in figures/)"


def add_arguments(parser):
    """The options of `adjoint-ref figures`: which figures, where, and whether quick."""
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="figure file names to draw (default: all registered figures)")
    parser.add_argument("--out", default=None,
                        help="folder for the PNG files (default figures/, or figures_quick/ with --quick, "
                             "so quick drafts never replace the gallery)")
    parser.add_argument("--quick", action="store_true",
                        help="cheapest settings that still draw every element (for smoke tests)")


def run(args):
    """Draw the named figures (all by default) into --out, one line per file written."""
    out = args.out or ("figures_quick" if args.quick else "figures")
    figures.render(args.names or None, out=out, quick=args.quick)
    return 0
