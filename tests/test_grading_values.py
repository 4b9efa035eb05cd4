"""Answer values cross from the student's process to the evaluator as data, never as objects."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from course.sandboxed.values import (
    Malformed,
    Unsupported,
    decode,
    decode_names,
    encode,
    encode_names,
)


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(value), allow_nan=False)))


SCALARS = [0, -7, 2**80, 0.1, float("inf"), True, False, None, "text ✓", b"\x00raw", 1 + 2j,
           (1, "a"), [1, [2.5, None]], {"a": 1, (1, 2): {3}}, frozenset({1, 2}),
           np.float64(0.25), np.int32(-3), np.bool_(True), np.str_("s"),
           pd.Timestamp("2024-03-01 12:00", tz="Asia/Shanghai"), pd.Timestamp("2024-03-01"),
           pd.Timedelta(hours=5), dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4), dt.timedelta(days=2)]


@pytest.mark.parametrize("value", SCALARS, ids=lambda v: type(v).__name__)
def test_scalars_and_containers_roundtrip_with_exact_types(value):
    back = roundtrip(value)
    assert type(back) is type(value)
    assert back == value


def test_nan_and_missing_markers_roundtrip():
    assert np.isnan(roundtrip(float("nan")))
    assert roundtrip(pd.NaT) is pd.NaT
    assert roundtrip(pd.NA) is pd.NA


FRAMES = [
    pd.Series([1.0, np.nan, 3.0], index=["a", "b", "c"], name="share"),
    pd.Series(["x", None, "z"]),
    pd.Series([1, None], dtype="Int64"),
    pd.Series(pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True)),
    pd.Series(pd.date_range("2024-01-01", periods=3, tz="UTC")),
    pd.DataFrame({"store": ["A", "B"], "cv": [0.2, 0.3], "n": [1, 2], "ok": [True, False], 7: [0.5, 1.5]}),
    pd.DataFrame({"v": [1, 2, 3, 4]},
                 index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1), ("b", 2)], names=["k", "n"])),
    pd.DataFrame({"g": ["a", "b", "a"], "h": ["x", "y", "y"], "v": [1, 2, 3]}).pivot_table(index="g", columns="h", values="v"),
    pd.DataFrame(np.eye(2), columns=["dup", "dup"]),
    pd.DataFrame(),
]


@pytest.mark.parametrize("frame", FRAMES, ids=range(len(FRAMES)))
def test_pandas_objects_roundtrip_exactly(frame):
    back = roundtrip(frame)
    assert type(back) is type(frame) and type(back.index) is type(frame.index)
    if isinstance(frame, pd.Series):
        pd.testing.assert_series_equal(back, frame, check_exact=True, check_index_type=True, check_freq=False)
    else:
        pd.testing.assert_frame_equal(back, frame, check_exact=True, check_column_type=True, check_freq=False)


def test_numpy_arrays_keep_dtype_and_shape():
    for arr in (np.arange(12, dtype=np.int16).reshape(3, 4), np.array(["a", "bb"]), np.array([1.5, np.nan]),
                np.array(["2024-01-01"], dtype="datetime64[D]"), np.array([1, None, "x"], dtype=object)):
        back = roundtrip(arr)
        assert back.dtype == arr.dtype and back.shape == arr.shape
        np.testing.assert_array_equal(back, arr)


class FakeFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class AlwaysEqual:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [FakeFloat(1.0), AlwaysEqual(), lambda: 1, print, np.array([AlwaysEqual()], dtype=object),
                                   [AlwaysEqual()], {"k": AlwaysEqual()}, pd.Series([AlwaysEqual()]),
                                   type("S", (pd.Series,), {})([1.0])],
                         ids=["float-subclass", "eq-object", "lambda", "builtin", "object-array", "list", "dict", "series-of-objects", "series-subclass"])
def test_objects_that_are_not_plain_data_are_refused(value):
    with pytest.raises(Unsupported):
        encode(value)


def test_encode_names_reports_what_it_skips():
    snap = encode_names({"x": 1.0, "f": len, "fake": FakeFloat(2.0)}, ["x", "f", "fake", "undefined"])
    assert set(snap["values"]) == {"x"}
    assert set(snap["skipped"]) == {"f", "fake"}


@pytest.mark.parametrize("tree", [
    {"t": "nd", "dtype": "O", "shape": [1], "b": ""},              # object dtype via raw bytes
    {"t": "nd", "dtype": "[('a', 'O')]", "shape": [1], "b": ""},   # structured dtype
    {"t": "nd", "dtype": "<f8", "shape": [10**9], "b": ""},         # size lie
    {"t": "pa", "dtype": "object", "items": []},                   # dtype not on the list
    {"t": "unknown"},
    {"t": "int", "v": "9" * 10_000},
    {"t": "sr", "values": {"t": "pa", "np": {"t": "nd", "dtype": "<f8", "shape": [1], "b": "AAAAAAAA8D8="}},
     "index": {"t": "ix", "range": [0, 5, 1], "name": None}, "name": None},  # length mismatch
])
def test_decoder_rejects_forged_input(tree):
    with pytest.raises(Malformed):
        decode(tree)


def test_decode_names_takes_only_allowed_names():
    snap = json.loads(json.dumps(encode_names({"x": 1.0, "_tol": 1e9}, ["x", "_tol"])))
    values, problems = decode_names(snap, {"x"})
    assert values == {"x": 1.0} and problems == {}
    assert decode_names("garbage", {"x"})[0] == {}
