"""Feature histograms bin a batch in its own dtype: the same counts and sums as a float64 copy would give."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from specops.serve._metrics import FeatureStats

EDGES = [[-10.0, 0.0, 0.1, 10.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 6.0], [-1e30, 1e30]]
DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.uint16]


@st.composite
def batches(draw: Any) -> np.ndarray:
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(st.sampled_from([(4,), (1, 4), (3, 4), (2, 3, 4)]))
    if np.issubdtype(dtype, np.floating):
        width = {np.float16: 16, np.float32: 32, np.float64: 64}[dtype]
        special = st.sampled_from([0.0, -0.0, 0.1, 10.0, 5.0, 6.0, -10.0, float("nan"), float("inf"), -float("inf")])
        elements = special | st.floats(-100, 100, width=width)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(int(info.min), -20), min(int(info.max), 300))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf + -inf in one sum
@settings(max_examples=300, deadline=None)
@given(batches())
def test_binning_in_the_batch_dtype_equals_binning_a_float64_copy(array: np.ndarray) -> None:
    stats = FeatureStats("t", ["a", "b", "c", "d"], EDGES)
    got = stats.bin(array)
    want = stats.bin(array.astype(np.float64))
    assert got is not None and want is not None
    assert got[0].tolist() == want[0].tolist()
    assert got[1].dtype == np.float64
    np.testing.assert_array_equal(got[1], want[1])  # exactly (NaN where both are NaN), no tolerance


def test_a_float32_batch_is_not_copied_to_float64() -> None:
    stats = FeatureStats("t", ["a", "b", "c", "d"], EDGES)
    batch = np.zeros((64, 4), dtype=np.float32)
    seen: list[np.dtype[Any]] = []
    real_astype = np.ndarray.astype

    class Watched(np.ndarray):
        def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(np.dtype(dtype))
            return real_astype(self, dtype, *args, **kwargs)

    stats.observe(batch.view(Watched))
    assert np.dtype(np.float64) not in seen
    assert int(stats.counts.sum()) == 64 * 4
