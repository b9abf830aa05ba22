"""The two sizes of `_impl/metrics`, each defined once: the root mean square and the relative difference."""
import numpy as np
import pytest

from adjoint_ref import adaptive, finite_differences
from adjoint_ref._impl.metrics import relative_difference, rms


def test_rms_is_the_root_mean_square_of_the_entries():
    assert rms([3.0, 4.0]) == pytest.approx(np.sqrt(12.5), rel=1e-15)
    assert rms(np.full((2, 3), -2.0)) == pytest.approx(2.0, rel=1e-15)  # shape and sign do not matter
    assert rms(np.zeros(0)) == 0.0


def test_the_solver_and_finite_differences_use_it():
    # the adaptive error ratio is ‖error / scale‖_RMS; finite differences step by max(|x_i|, rms(x))
    assert adaptive.error_ratio(np.zeros(2), np.zeros(2), np.array([3.0, 4.0]), 1.0, 1.0) == rms([3.0, 4.0])
    x = np.array([0.0, 3.0, -4.0])
    assert np.array_equal(finite_differences.value_steps(x), finite_differences.STEP * np.array([rms(x), 3.0, 4.0]))
    assert np.array_equal(finite_differences.value_steps(np.zeros(2)), finite_differences.STEP * np.ones(2))


def test_relative_difference_is_scale_free_and_symmetric():
    a, b = np.array([1.0, 2.0]), np.array([1.0, 2.5])
    expected = 0.5 / np.linalg.norm(b)
    assert relative_difference(a, b) == relative_difference(b, a) == pytest.approx(expected, rel=1e-15)
    assert relative_difference(1e6 * a, 1e6 * b) == pytest.approx(expected, rel=1e-12)
    assert relative_difference(a, a) == relative_difference(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_difference({"x": a, "y": 1.0}, {"x": b, "y": 1.0}) == pytest.approx(0.5 / np.linalg.norm([1, 2.5, 1]))
    assert relative_difference(1e-9, 0.0, floor=1.0) == pytest.approx(1e-9)  # below the floor: absolute
