"""The two examples worked by hand in derivation/README.md, recomputed three ways.

Each number is computed from its closed form here (by hand, or with the matrix exponential of
tests/reference.py, which does not use the package), by the package's adjoint, and looked up on the
page as printed (six decimals). The adjoint must match the closed form within RK4's error bound.
"""
from pathlib import Path

import numpy as np
import pytest

import adjoint_ref as ar
from adjoint_ref.problems.models import growth_problem, shear_problem
from reference import expm, expm_derivative, relative, rk4_error_bound

PAGE = Path(__file__).resolve().parent.parent / "derivation" / "README.md"
N_STEPS = 20
RATE = 1.0  # of example 2's flow: A's eigenvalue is −1 (twice); observed errors sit 2–5x below the bound


def example_1():
    """dz/dt = θz, z0 = 1, θ = 0.5, [0, 2], L = z(t1)²/2: every worked number, from the closed form."""
    z0, theta, t0, t1 = 1.0, 0.5, 0.0, 2.0
    z1 = z0 * np.exp(theta * (t1 - t0))
    lam0 = np.exp(theta * (t1 - t0)) * z1  # λ(t) = e^{θ(t1 − t)} λ(t1), λ(t1) = z1
    return {"z1": z1, "loss": z1 ** 2 / 2, "z0": lam0, "theta": (t1 - t0) * z1 ** 2,
            "dL_dt1": theta * z1 ** 2, "dL_dt0": -theta * z1 * z1}


def example_2():
    """dz/dt = A z, A = [[−1, 2], [0, −1]], z0 = (0, 1), [0, 2], L = w·z(t1), w = (1, 0), by matrix exponentials."""
    A, z0, w, T = np.array([[-1.0, 2.0], [0.0, -1.0]]), np.array([0.0, 1.0]), np.array([1.0, 0.0]), 2.0
    z1 = expm(A * T) @ z0
    unit = np.eye(2)
    dL_dA = np.array([[w @ expm_derivative(A, np.outer(unit[j], unit[k]), T) @ z0 for k in range(2)] for j in range(2)])
    lam0 = w @ expm(A * T)
    return {"z1": z1, "loss": w @ z1, "z0": lam0, "theta": dL_dA, "dL_dt1": w @ A @ z1, "dL_dt0": -lam0 @ A @ z0}


def adjoint_numbers(problem):
    g = ar.gradients(problem.loss, problem.f, problem.z0, problem.theta, problem.ts, N_STEPS)
    return {"loss": g.loss, "z0": g.z0, "theta": g.theta, "dL_dt0": g.ts[0], "dL_dt1": g.ts[1]}


def test_example_1_growth():
    exact, e = example_1(), np.e
    by_hand = {"z1": e, "loss": e ** 2 / 2, "z0": e ** 2, "theta": 2 * e ** 2, "dL_dt1": e ** 2 / 2, "dL_dt0": -e ** 2 / 2}
    for name, value in by_hand.items():
        assert exact[name] == pytest.approx(value, rel=1e-15), name
    tol = rk4_error_bound(0.5, 2.0, 2.0 / N_STEPS)
    for name, value in adjoint_numbers(growth_problem()).items():
        assert relative(value, exact[name]) < tol, name


def test_example_2_shear():
    exact, T = example_2(), 2.0
    # e^{As} = e^{−s}(I + 2sN): the page's formulas.
    by_hand = {"z1": np.exp(-T) * np.array([2 * T, 1.0]), "loss": 2 * T * np.exp(-T),
               "z0": np.exp(-T) * np.array([1.0, 2 * T]),
               "theta": np.exp(-T) * np.array([[T ** 2, T], [2 * T ** 3 / 3, T ** 2]]),
               "dL_dt1": np.exp(-T) * (2 - 2 * T), "dL_dt0": -np.exp(-T) * (2 - 2 * T)}
    for name, value in by_hand.items():
        assert relative(exact[name], value) < 1e-13, name
    tol = rk4_error_bound(RATE, T, T / N_STEPS)
    for name, value in adjoint_numbers(shear_problem()).items():
        assert relative(value, exact[name]) < tol, name


def transposed_adjoint(A, w, T, n_steps):
    """The mistake, solved numerically: dλ/dt = −A λ for a column λ, from λ(T) = w back to 0 by RK4."""
    def f(lam, theta, t):
        return -(theta @ lam)
    return ar.odeint(f, w, A, [T, 0.0], n_steps)[-1]


def test_example_2_forgetting_the_transpose():
    A, w, T = np.array([[-1.0, 2.0], [0.0, -1.0]]), np.array([1.0, 0.0]), 2.0
    wrong = transposed_adjoint(A, w, T, N_STEPS)
    assert relative(wrong, np.exp(-T) * np.array([1.0, 0.0])) < rk4_error_bound(RATE, T, T / N_STEPS)
    right = example_2()["z0"]
    assert abs(wrong[1] - right[1]) > 0.5  # visibly wrong: 0 against 0.54
    symmetric = (A + A.T) / 2  # for a symmetric matrix the mistake is invisible
    sym_w_expm = w @ expm(symmetric * T)
    assert relative(transposed_adjoint(symmetric, w, T, N_STEPS), sym_w_expm) < rk4_error_bound(RATE, T, T / N_STEPS)


def printed(value):
    return f"{value:.6f}"


def test_the_page_prints_the_checked_numbers():
    page = PAGE.read_text(encoding="utf-8")
    one, two = example_1(), example_2()
    numbers = [one[name] for name in ("z1", "loss", "z0", "theta", "dL_dt1", "dL_dt0")]
    numbers += [*two["z1"], two["loss"], *two["z0"], *np.ravel(two["theta"]), two["dL_dt1"], two["dL_dt0"]]
    for value in numbers:
        assert printed(value) in page, printed(value)
    package = adjoint_numbers(growth_problem())
    quoted = f"gives {package['z0']:.6f}, {package['theta']:.6f} and ∓{package['dL_dt1']:.6f}"
    assert quoted in page.replace("\n", " "), quoted
