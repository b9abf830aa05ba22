"""`adjoint-ref figures`: draw the registered figures into a folder."""
import argparse
import os

from .. import figures
from ..._impl.files import OutputTaken
from .options import UsageError, check_folder, check_outputs, output_folder
from .progress import Progress, add_quiet_option

HELP = "regenerate the figure gallery (PNG files in figures/)"
DESCRIPTION = (
    HELP + ". Existing files are never replaced unless --force, and the check comes before any drawing: "
    "to redraw the committed gallery, run `adjoint-ref figures --force` (git then shows what changed). "
    "Each file is written whole or not at all.")


def figure_name(text):
    """An argparse type: the file name of a registered figure."""
    if text not in figures.FIGURES:
        raise argparse.ArgumentTypeError(f"unknown figure {text!r}; the figures are {', '.join(figures.FIGURES)}")
    return text


def add_arguments(parser):
    """The options of `adjoint-ref figures`: which figures, where, whether quick, --force and --quiet."""
    parser.description = DESCRIPTION
    parser.add_argument("names", nargs="*", metavar="NAME", type=figure_name,
                        help="figure file names to draw (default: all registered figures)")
    parser.add_argument("--out", default=None, type=output_folder,
                        help="folder for the PNG files (default figures/, or figures_quick/ with --quick, "
                             "so quick drafts never replace the gallery)")
    parser.add_argument("--quick", action="store_true",
                        help="cheapest settings that still draw every element (for smoke tests)")
    parser.add_argument("--force", action="store_true", help="replace figures that exist already in the folder")
    add_quiet_option(parser)


def run(args):
    """Draw the named figures (all by default) into --out, one line per file written; refuse first
    if a file would be replaced without --force, or the default folder cannot be written. A file that
    another run writes meanwhile is kept (without --force): the command names it and exits 2."""
    out = args.out if args.out is not None else "figures_quick" if args.quick else "figures"
    if args.out is None:
        check_folder(out)
    names = args.names or list(figures.FIGURES)
    check_outputs([os.path.join(out, name) for name in names], args.force)
    figures.load_matplotlib()
    with Progress(args.quiet) as progress:
        try:
            figures.render(names, out=out, quick=args.quick, log=progress.echo, progress=progress,
                           replace=args.force)
        except OutputTaken as taken:
            raise UsageError(f"{taken}; this run's drawing of {'them' if len(taken.paths) > 1 else 'it'} was "
                             "dropped (pass --force to replace)") from None
    return 0
