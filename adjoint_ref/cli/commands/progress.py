"""Progress of a slow command on stderr: [i/N], what it is doing and the time left, on one line.

Nothing is shown during the first DELAY seconds (a quick command stays silent), when stderr is not a
terminal (a log file or a pipe gets no control characters), or with --quiet.
"""
import sys
import time

DELAY = 2.0  # seconds before the first progress line


def add_quiet_option(parser):
    """The --quiet option: no progress line on stderr."""
    parser.add_argument("--quiet", action="store_true",
                        help="no progress line on stderr (none is shown either when stderr is not a terminal)")


class Progress:
    """A callable progress(done, total, label), called before each of `total` items with `done` of them
    finished; used as a context manager, it clears its line at the end. done=0 starts a new phase:
    the time left is the phase's time so far per finished item, times the items left."""

    def __init__(self, quiet=False, stream=None, delay=DELAY):
        self.stream = sys.stderr if stream is None else stream
        self.active = not quiet and self.stream.isatty()
        self.start = self.phase = time.perf_counter()
        self.delay, self.shown = delay, False

    def __call__(self, done, total, label):
        now = time.perf_counter()
        if done == 0:
            self.phase = now
        if not self.active or now - self.start < self.delay:
            return
        left = f", about {_duration((now - self.phase) / done * (total - done))} left" if done else ""
        self.stream.write(f"\r[{done + 1}/{total}] {label}{left}\033[K")
        self.stream.flush()
        self.shown = True

    def note(self, text):
        """Show `text` and the time so far, for work whose number of items is not known."""
        now = time.perf_counter()
        if self.active and now - self.start >= self.delay:
            self.stream.write(f"\r{text} ({_duration(now - self.start)} so far)\033[K")
            self.stream.flush()
            self.shown = True

    def echo(self, text):
        """Print `text` on stdout, clearing the progress line first so the two do not mix."""
        self.clear()
        print(text, flush=True)

    def clear(self):
        """Erase the progress line, if one is shown."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.clear()


def _duration(seconds):
    """12 s, 3 min 5 s."""
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"
