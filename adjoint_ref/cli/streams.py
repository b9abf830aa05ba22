"""The command's standard streams and signals: what the terminal, a pipe or the system can do to a run.

`guarded()` makes output safe to write whatever the reader does: on a stream whose encoding cannot
show the derivation's symbols (PYTHONIOENCODING=ascii, an old terminal) they are written in ASCII
(θ as theta, ‖ as ||, ...), and a reader that stops reading (`adjoint-ref train | head -2`) no
longer kills the run with BrokenPipeError: the rest of the output is dropped and the work goes on to
its end (a training run still writes its files). `signals_as_interrupts` turns SIGTERM and SIGHUP
into a KeyboardInterrupt subclass, so that they stop a run the way Ctrl-C does: a training run saves
the parameters reached, a file being written is removed before it is complete.
"""
import codecs
import contextlib
import os
import signal
import sys
import threading

ASCII = {"θ": "theta", "λ": "lambda", "∂": "d", "−": "-", "‖": "||", "·": "*", "–": "-", "—": "-", "∫": "int ",
         "Σ": "sum ", "ε": "eps", "δ": "delta", "→": "->", "↦": "->", "ω": "omega", "…": "...", "≥": ">=",
         "≤": "<=", "≠": "!=", "≈": "~", "×": "x", "√": "sqrt", "⌈": "ceil(", "⌉": ")", "½": "1/2", "µ": "u",
         "μ": "u", "ψ": "psi", "η": "eta", "Φ": "Phi", "φ": "phi", "ż": "dz/dt", "²": "^2", "³": "^3", "⁴": "^4",
         "⁵": "^5", "⁻": "^-", "⁺": "^+", "ᵢ": "_i", "₀": "0", "₁": "1", "₂": "2", "ᵀ": "^T", "°": " deg"}
ERRORS = "adjoint_ref_ascii"  # the codec error handler that writes ASCII for the symbols above
SIGNALS = ("SIGTERM", "SIGHUP")  # handled like Ctrl-C (SIGHUP: the terminal closed)


def _ascii_replacement(error):
    """A codec error handler: the ASCII spelling of the characters a stream cannot encode, else '?'."""
    bad = error.object[error.start:error.end]
    return "".join(ASCII.get(char, "?") for char in bad), error.end


codecs.register_error(ERRORS, _ascii_replacement)


class _Closable:
    """A text stream whose reader may go away: on BrokenPipeError (or another OSError of a closed
    reader) the stream's descriptor is pointed at the null device and later writes are dropped."""

    def __init__(self, stream):
        self._stream, self.closed_early = stream, False

    def write(self, text):
        if not self.closed_early:
            try:
                return self._stream.write(text)
            except (BrokenPipeError, ConnectionResetError):
                self._drop()
        return len(text)

    def flush(self):
        if not self.closed_early:
            try:
                self._stream.flush()
            except (BrokenPipeError, ConnectionResetError):
                self._drop()

    def _drop(self):
        self.closed_early = True
        try:  # Python flushes the stream again at exit: let that go to the null device
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _ascii_if_needed(stream):
    """Let `stream` write the derivation's symbols in ASCII if its encoding cannot encode them."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "θλ∂‖−".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors=ERRORS)


@contextlib.contextmanager
def guarded():
    """sys.stdout and sys.stderr made safe for the command's output (see the module's docstring),
    as they were afterwards."""
    saved = sys.stdout, sys.stderr
    for stream in saved:
        _ascii_if_needed(stream)
    sys.stdout, sys.stderr = _Closable(saved[0]), _Closable(saved[1])
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def signals_as_interrupts(interrupt):
    """While inside, SIGTERM and SIGHUP raise interrupt(text, signal number), a KeyboardInterrupt
    subclass, in the main thread; the earlier handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupt(signum, frame):
        raise interrupt(f"terminated by {signal.Signals(signum).name}", signum)

    saved = {}
    for name in SIGNALS:
        if hasattr(signal, name):
            number = getattr(signal, name)
            saved[number] = signal.signal(number, raise_interrupt)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
