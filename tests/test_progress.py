"""The progress line of slow commands: [i/N], the item and the time left, on a terminal's stderr only."""
import io
import time

from adjoint_ref.cli.commands.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_i_of_n_and_the_time_left_then_clears():
    stream = Terminal()
    with Progress(stream=stream, delay=0.0) as progress:
        progress(0, 3, "first")
        time.sleep(0.02)
        progress(1, 3, "second")
        assert stream.getvalue().startswith("\r[1/3] first\033[K\r[2/3] second, about 0 s left\033[K")
    assert stream.getvalue().endswith("\r\033[K")  # the line is erased at the end


def test_progress_is_silent_when_quick_quiet_or_not_on_a_terminal():
    for progress in (Progress(stream=Terminal()),  # within its first DELAY seconds
                     Progress(quiet=True, stream=Terminal(), delay=0.0),  # --quiet
                     Progress(stream=io.StringIO(), delay=0.0)):  # stderr is a file or a pipe
        with progress:
            progress(0, 2, "a")
            progress.note("b")
        assert progress.stream.getvalue() == ""


def test_echo_clears_the_line_before_printing(capsys):
    stream = Terminal()
    progress = Progress(stream=stream, delay=0.0)
    progress(0, 2, "drawing")
    progress.echo("wrote figures/a.png")
    assert stream.getvalue().endswith("\r\033[K") and capsys.readouterr().out == "wrote figures/a.png\n"
