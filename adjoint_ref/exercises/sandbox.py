"""`grade`: grade a learner's file in a process of its own (`runner`) and report what it says.

The learner's code can end its process (sys.exit at import, os._exit), hang, print anything, or
leave modules behind: none of that reaches this process, whose verdict counts only reports that
carry the token it handed the runner. Exit status 0 means the runner reported every case as a
pass and then finished; anything else (an early end, silence longer than `timeout`) is a 1.
Whatever the learner's code prints is shown indented under the case that printed it.
"""
import json
import os
import queue
import secrets
import subprocess
import sys
import threading

# The runner's sys.path[0] is the folder this package was imported from (not the current folder),
# so that it grades with this very code.
BOOT = "import sys; sys.path[0] = sys.argv.pop(1); from adjoint_ref.exercises.runner import main; main(sys.argv[1:])"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 120.0


def command(number, path, seed, first_failure=False):
    """The command line that starts the runner on the learner's file `path`."""
    return [sys.executable, "-c", BOOT, ROOT, str(number), os.path.abspath(path), str(seed), str(int(first_failure))]


def grade(number, module, path, seed, timeout, first_failure=False):
    """Grade the learner's file `path` on exercise `number` (its `module`) in a runner process,
    printing one line per case (up to the first failure, if `first_failure`); return the exit status:
    0 if every case passes, else 1."""
    print(f"exercise {number}: {module.TITLE}, {module.EQUATIONS}. Grading {module.FUNCTION} in {path}", flush=True)
    token = secrets.token_hex(16)
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    with subprocess.Popen(command(number, path, seed, first_failure), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env, encoding="utf-8", errors="replace") as child:
        try:
            child.stdin.write(token + "\n")
            child.stdin.close()
            return Follower(module, number, path).follow(_lines(child.stdout, token, timeout), child, timeout)
        finally:
            if child.poll() is None:
                child.kill()


def _lines(stream, token, timeout):
    """(report, None) for each report of the runner (a dict), (None, text) for any other output, in
    order; TimeoutError after `timeout` seconds of silence; the end of the stream ends the iteration."""
    lines = queue.Queue()

    def pump():
        try:
            for line in stream:
                lines.put(line)
        except (OSError, ValueError):  # the stream was closed under it: the grading is over
            pass
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            return
        before, mark, after = line.rstrip("\n").partition(token + " ")
        if before:
            yield None, before
        if mark:
            yield json.loads(after), None


class Follower:
    """Prints the runner's reports as they come and keeps the count of verdicts."""

    def __init__(self, module, number, path):
        self.module, self.number, self.path = module, number, path
        self.labels, self.statuses, self.current, self.open_line = [], [], None, False

    def say(self, text, end="\n"):
        """Print text, on a line of its own unless it ends the open "case …" line."""
        print(text, end=end, flush=True)
        self.open_line = end != "\n"

    def follow(self, lines, child, timeout):
        """Show every line; return the exit status (0 only after "done", with every case passing)."""
        try:
            for report, output in lines:
                if output is not None:
                    self.say(("\n" if self.open_line else "") + f"    | {output}")
                elif "done" in report:
                    return self.summary(child.wait())
                elif not self.show(report):
                    return 1
        except TimeoutError:
            child.kill()
            return self.stop(f"no answer after {timeout:g} s (an endless loop?)")
        status = child.wait()
        return self.stop(f"the grading process ended (exit status 0) without a word: os._exit in "
                         f"{self.module.FUNCTION} or in your file?" if status == 0 else
                         f"the grading process stopped with exit status {status} (the lines marked | say why)")

    def show(self, report):
        """Print one report; False if grading cannot go on ("cannot")."""
        if "cases" in report:
            self.labels = report["cases"]
        elif "cannot" in report:
            self.say(f"cannot grade: {report['cannot']}")
            return False
        elif "start" in report:
            self.current = report["start"]
            self.say(f"  case {self.current + 1}/{len(self.labels)}: {self.labels[self.current]} ...", end=" ")
        elif "verdict" in report:
            self.say(report["text"] if self.open_line else f"    {report['text']}")
            self.statuses.append(report["status"])
            self.current = None
        return True

    def stop(self, why):
        """Report a grading that ended early; the exit status 1."""
        if self.current is None:
            self.say(f"{chr(10) if self.open_line else ''}cannot grade {self.path}: {why}")
        else:
            self.say(f"{'' if self.open_line else '    '}FAIL: {why}")
            self.say(f"{self.statuses.count('pass')} of {len(self.labels)} cases pass; grading stopped at case "
                     f"{self.current + 1}")
        return 1

    def summary(self, exit_status):
        """The last line, and the exit status: 0 only if every case passed and the runner ended cleanly."""
        passed, count = self.statuses.count("pass"), len(self.labels)
        if passed == count and exit_status == 0:
            self.say(f"all {passed} cases pass: well done")
            return 0
        if "not done" in self.statuses:
            self.say(f"{passed} of {count} cases pass: not done yet, write the body of {self.module.FUNCTION}")
        else:
            self.say(f"{passed} of {count} cases pass; statement and hints: adjoint-ref exercise show {self.number}")
        return 1
