"""Graders for answers that are numerical methods of order 4: their error must be that of RK4.

An answer to exercises 4, 5, 6, 8 and 10 solves an ODE (or takes integrals) with n RK4 steps, so it
differs from the exact value by C·h⁴, with a C that depends on the method. The grader runs the
learner's function with n and with 2n steps and compares both with the converged value (from an
independent method with many more steps). Its tolerances come from correct answers computed beside
it by other implementations (the "variants" of the exercise: there may be several right ways):

- at n and at 2n steps, each output's error must be at most MARGIN times the largest error of a
  correct variant there, plus ROUNDOFF;
- its observed order, log₂(error(n) / error(2n)), must be at least the lowest variant's minus
  ORDER_SLACK (when the variants' errors are large enough to measure one).

A pass says the observed orders; where a correct answer's is more than ORDER_SLACK from 4 the note
says why (`order_note`): the order is pre-asymptotic at these step sizes.

Measured by grading the reference answers, tests/other_solutions/ex5_end_value.py and
tests/wrong_solutions/ex4_{half_steps,kutta3}.py with seeds 0–5 (`adjoint-ref exercise check … --seed S`):
the correct variants' observed orders are 3.05–4.12 (most 3.9–4.1); taking half the required number of
steps multiplies the error by 14–23 (2⁴ = 16 > MARGIN); Kutta's third-order rule by 10–155, with order
2.8–3.2; float32 states (tests/wrong_solutions/ex8_float32.py) leave a difference of 1e-9–2e-8 to a
correct answer that does not shrink with the steps.
"""
from collections import namedtuple

import numpy as np

from .._impl.metrics import relative_difference
from ._common import COMPARISONS, FLOAT32, FLOAT32_GAPS, FLOAT64_ADVICE, Wrong, numeric_tree, recognise
from ._guard import STAGE_TIMES

ORDER = 4  # classical Runge–Kutta, and Simpson's rule
MARGIN = 5
ROUNDOFF = 1e-12
ORDER_SLACK = 0.5
# The converged values take FINE times the 2n steps: their own error is then 4⁴ = 256 times below a
# 2n-step answer's, and the observed orders of the correct variants move by at most 0.45 from those
# measured against 64n steps (with 2 instead of 4, dL/dt0's moved from 3.1–4.3 to 1.8–4.5: for a
# scalar, a correct answer's C may happen to be small).
FINE = 4
# A known mistake differs from the right answer by O(1); the learner's version of it, computed with
# other steps than the grader's, lies within a correct answer's error (~1e-6) of it.
NEAR = 1e-4
LOW_ORDER = "order too low"
TOO_FEW_STEPS = "too few steps"

Output = namedtuple("Output", ["name", "floor", "mistakes", "meaning"], defaults=("",))
Output.__doc__ = """One graded output: its name, the scale below which its differences count as absolute,
mistakes(converged), the known mistakes in it (`Mistake`s valued at n_steps) given its converged value,
and its meaning (what it is, said when it is off by a wrong formula)."""


def grade_order(run, exact, correct, outputs, n_steps, audit=None):
    """Grade the learner's `outputs` by their errors at n_steps and 2·n_steps; a note on a pass.

    run(n): the learner's outputs with n steps (through `call`); exact(): the converged values;
    correct(n): a list of correct variants, each the outputs with n steps, computed without the
    learner's code; audit(n): '' if the learner's run with n steps evaluated f as the statement
    prescribes, else why not (see `_guard.audit_stages`). Raises Wrong, naming every output that
    fails (a known mistake, or the likely cause, see `diagnosis`), then a wrong count of evaluations.
    """
    steps = (n_steps, 2 * n_steps)
    answers, audits = [], []
    for n in steps:  # the learner's first, so that a skeleton costs nothing more
        answers.append(run(n))
        audits.append(audit(n) if audit else "")
    expected, variants = exact(), [correct(n) for n in steps]
    orders, failures = [], []
    for k, out in enumerate(outputs):
        try:
            orders.append(_grade_output(out, [answer[k] for answer in answers], expected[k],
                                        [[variant[k] for variant in at_n] for at_n in variants], steps, audits[0]))
        except Wrong as err:
            failures.append(str(err))
    if failures:
        raise Wrong("; ".join(failures))
    if audits[0] or audits[1]:
        raise Wrong(f"with n_steps = {steps[0] if audits[0] else steps[1]}: {audits[0] or audits[1]}")
    measured = [pair for pair in orders if pair[1] is not None]
    if not measured:
        return ""
    return order_note(*min(measured), steps)


def order_note(order, their_order, steps):
    """The note on a pass: the observed order, a correct answer's, and why that one may not be 4 yet."""
    note = f"error falls like h^{order:.2f} from {steps[0]} to {steps[1]} steps (a correct answer's: h^{their_order:.2f}"
    if abs(their_order - ORDER) > ORDER_SLACK:
        note += (f"; not {ORDER}: RK4's h^{ORDER} holds as h → 0, and at these step sizes the next terms of the "
                 "error still count (pre-asymptotic; for a single number such as dL/dt0 the h⁴ term may also "
                 f"nearly cancel): yours is held to the correct answer's observed order minus {ORDER_SLACK}")
    return note + ")"


def _grade_output(out, answers, expected, variants, steps, audit=""):
    """(observed order, the lowest of the correct variants' or None if too small to measure) of one
    output, given the learner's answers and the variants' at `steps`; Wrong if it fails (see the module)."""
    mine = [numeric_tree(out.name, answer, expected, out.floor) for answer in answers]
    errors = [relative_difference(answer, expected, out.floor) for answer in mine]
    theirs = np.array([[relative_difference(v, expected, out.floor) for v in at_n] for at_n in variants])
    tols = MARGIN * theirs.max(axis=1) + ROUNDOFF
    COMPARISONS.extend((f"{out.name}, {n} steps", e, tol) for n, e, tol in zip(steps, errors, tols))
    order = _order(errors)
    their_order = min(map(_order, theirs.T)) if theirs[1].min() > 100 * ROUNDOFF else None
    too_low = their_order is not None and order < their_order - ORDER_SLACK
    if errors[0] > tols[0] or errors[1] > tols[1] or too_low:
        recognise(out.name, mine[0], out.mistakes(expected), NEAR, out.floor)
        apart = [relative_difference(answer, at_n[0], out.floor) for answer, at_n in zip(mine, variants)]
        raise Wrong(diagnosis(out.name, steps, errors, theirs.max(axis=1), apart, their_order, out.meaning, audit))
    return order, their_order


def _order(errors):
    """log₂ of the error ratio when the steps are halved (inf if the second error is 0)."""
    return float(np.log2(errors[0] / errors[1])) if errors[1] > 0 else np.inf


def diagnosis(name, steps, errors, theirs, apart, their_order, meaning="", audit=""):
    """Why output `name` failed, from its errors and a correct answer's (`theirs`) at n and 2n steps, and
    its differences to a correct answer (`apart`): float32 round-off, an error that does not fall with h
    (a wrong formula: `meaning` says what the output is), a lower order (`audit`, if it found f evaluated
    at the wrong times, says where), too few steps, or else. their_order None: too small to measure."""
    (n, _), (e1, e2) = steps, errors
    ratio = e1 / theirs[0] if theirs[0] > 0 else np.inf
    measured = (f"error {e1:.1e} with {n} steps, {e2:.1e} with {2 * n}; a correct answer's {theirs[0]:.1e}, "
                f"{theirs[1]:.1e}")
    if apart[1] > apart[0] / 2 and FLOAT32_GAPS[0] / 10 < apart[1] < FLOAT32_GAPS[1]:
        return (f"{name}: {FLOAT32}: it differs from a correct answer by {apart[0]:.0e} with {n} steps and by "
                f"{apart[1]:.0e} with {2 * n} ({measured}): round-off that does not shrink with the steps, of "
                f"float32's size; {FLOAT64_ADVICE}")
    order, expected_order = _order(errors), ORDER if their_order is None else their_order
    if order < 0.5 and e2 > 1e3 * ROUNDOFF:
        return (f"{name} is wrong: off the converged value by {e1:.1e} (relative) with {n} steps and by "
                f"{e2:.1e} with {2 * n}, where a correct answer is off by {theirs[0]:.1e} and {theirs[1]:.1e}; "
                "an error that does not shrink with the steps is not RK4's but the quantity's"
                + (f": {name} is {meaning}" if meaning else ""))
    if order < expected_order - ORDER_SLACK and e2 > ROUNDOFF:
        culprit = audit if audit.startswith(STAGE_TIMES) else _culprit(order)
        return (f"{name}: {LOW_ORDER}: its error falls like h^{order:.1f}, RK4's like h^{expected_order:.1f} "
                f"({measured}); {culprit}")
    if 1.4 <= ratio ** (1 / ORDER) <= 4:
        return (f"{name}: {TOO_FEW_STEPS}: it is {ratio:.0f} times less accurate than RK4 with n_steps = {n} "
                f"steps, as if it took {n / ratio ** (1 / ORDER):.0f} ({measured}); take exactly n_steps steps "
                "of h = (t_end − t_start)/n_steps")
    return f"{name} is off the converged value ({measured}; tolerance {MARGIN} times a correct answer's)"


def _culprit(order):
    if order > 2.5:
        return ("a third-order rule such as Kutta's (k3 at t + h, weights 1/6, 4/6, 1/6)? RK4 takes four "
                "slopes at t, t + h/2, t + h/2, t + h weighted 1/6, 2/6, 2/6, 1/6")
    if order > 1.5:
        return "a second-order rule somewhere (midpoint, Heun, the trapezoidal rule for an integral)?"
    return "a first-order rule somewhere (Euler steps, or a Riemann sum for an integral)?"
