"""What the commands check before any work: argument types, output paths, memory.

A user's mistake is found before any work and reported in one line with exit status 2, in one of two
ways. A value that is wrong by itself is refused while the command line is parsed, by an argument
type below: argparse prints "adjoint-ref CMD: error: argument --OPTION: …" (after the usage line).
What can only be judged with the other options or the file system (outputs that exist, two options
that do not fit together, too much memory) is a `UsageError`, raised by the command's `run` before
it starts working; `cli.main` prints it as "adjoint-ref CMD: error: …". Nothing else is treated as
the user's mistake: any other exception is a bug and keeps its traceback.
"""
import argparse
import os

from ..._impl.memory import MemoryLimitError
from ..._impl.validate import positive_int as validate_positive_int, positive_number, steps_of_size


class UsageError(Exception):
    """A mistake in the command line found after parsing; `cli.main` prints it in one line, exit 2."""


def number(convert, accept, requirement):
    """An argparse type: `convert(text)`, refused with "must be {requirement}" if that fails or unless
    `accept(value)` (write `accept` so that NaN fails it)."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value
    return parse


def accepts(validator, value):
    """Whether a validator of `adjoint_ref._impl.validate` takes `value` (the package's rule, applied
    to a command-line number)."""
    try:
        validator(value, "value")
    except (TypeError, ValueError):
        return False
    return True


positive_int = number(int, lambda n: accepts(validate_positive_int, n), "a positive integer")
non_negative_int = number(int, lambda n: n >= 0, "a non-negative integer")
positive_float = number(float, lambda x: accepts(positive_number, x), "a positive, finite number")


class Terminated(KeyboardInterrupt):
    """A termination signal (SIGTERM, SIGHUP) received: handled like Ctrl-C (a training run saves the
    parameters reached, temporary files are removed), then exit status 128 + `signum`."""

    def __init__(self, text, signum):
        super().__init__(text)
        self.signum = signum


def output_folder(text):
    """An argparse type: a folder to write into, which may not exist yet (`folder_problem`)."""
    problem = folder_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def folder_problem(text):
    """Why the folder `text` (which may not exist yet) cannot be written into, or None. Refused: empty
    text (an unset shell variable, say), an existing file, a path through a file, a symbolic link to
    nothing, a name longer than the file system allows, a folder that cannot be written (tried with a
    file created and removed there), a current folder that was deleted."""
    if not text.strip():
        return "must name a folder, got an empty string"
    try:
        existing = os.path.abspath(text)
    except FileNotFoundError:
        return "the current folder no longer exists (deleted?); cd to an existing folder first"
    if os.path.exists(text) and not os.path.isdir(text):
        return f"{text} is a file, not a folder"
    missing = []
    while not os.path.exists(existing):
        if os.path.islink(existing):
            return f"cannot create {text}: {existing} is a symbolic link to {os.readlink(existing)}, which does not exist"
        existing, name = os.path.split(existing)
        missing.append(name)
    if not os.path.isdir(existing):
        return f"cannot create {text}: {existing} is a file"
    longest = _name_max(existing)
    too_long = [name for name in missing if len(os.fsencode(name)) > longest]
    if too_long:
        return f"cannot create {text}: the name {too_long[0][:40]}… is longer than the {longest} bytes the file system allows"
    return None if _writable(existing) else f"cannot write into {existing} (permission denied or a read-only file system)"


def _name_max(folder):
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _writable(folder):
    """True if a file can be created (and is removed again) in the existing `folder`: os.access alone
    says yes to root on a read-only file system's permissions."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    probe = os.path.join(folder, f".adjoint-ref-probe-{os.getpid()}.tmp")
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:
        return False
    os.remove(probe)
    return True


def check_folder(text, option="--out"):
    """UsageError naming `option` if the folder `text` cannot be written into (`folder_problem`): for a
    default folder, which argparse's type does not see."""
    problem = folder_problem(text)
    if problem:
        raise UsageError(f"{option} {text} (the default): {problem}")


def check_outputs(paths, force):
    """UsageError unless every output path is free: a folder in the way is always refused, an existing
    file unless `force` (--force). Called before any work, so a refusal costs nothing."""
    folders = [path for path in paths if os.path.isdir(path)]
    if folders:
        raise UsageError(f"{', '.join(folders)}: a folder where an output file would go; choose another --out")
    existing = [path for path in paths if os.path.lexists(path)]
    if existing and not force:
        raise UsageError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; pass --force "
                         "to replace (an interrupted write never damages a file), or choose another --out")


def check_memory(guard, settings):
    """Call `guard()`, a memory check of `adjoint_ref._impl.memory`, before any work; its MemoryLimitError
    becomes a UsageError that names the options responsible (`settings`, e.g. "--steps 20000")."""
    try:
        guard()
    except MemoryLimitError as err:
        raise UsageError(f"{settings}: too much memory: {err.what} would need about {err.need / 2**30:.3g} "
                         f"GiB, above the limit of {err.limit / 2**30:.3g} GiB") from None


def steps_from_size(step_size, ts):
    """The RK4 steps per interval for --step-size on the times ts (`validate.steps_of_size`); a step so small
    that an interval would need more than 1e9 steps is a UsageError."""
    try:
        return steps_of_size(step_size, ts)
    except ValueError as err:
        raise UsageError(f"--step-size {step_size:g}: {err}") from None
