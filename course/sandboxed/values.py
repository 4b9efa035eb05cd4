"""Answer values as *data only*: encode in the student's process, decode in the evaluator.

The grader never unpickles anything a student's process produced. Values cross the boundary as
JSON with tagged nodes, and only these types are rebuilt (exact types, never subclasses):

- ``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``complex``, ``str``,
  ``bytes``; ``list``, ``tuple``, ``dict``, ``set``, ``frozenset`` of supported values;
- ``datetime.date``/``datetime``/``timedelta`` (naive or UTC), ``pandas.Timestamp``,
  ``pandas.Timedelta``, ``pandas.NaT``, ``pandas.NA``;
- numpy arrays and scalars of bool, integer, float, complex, datetime, timedelta, str and bytes
  dtypes (object arrays of supported values);
- ``pandas.Series``, ``DataFrame`` and ``Index`` (``RangeIndex``, ``MultiIndex``, ...), with
  numpy, categorical, string, nullable and timezone-aware datetime dtypes.

Anything else (functions, classes, figures, objects with a custom ``__eq__``) is *not exported*:
a test cell that uses it fails with a ``NameError`` in the evaluator.

>>> import numpy as np, pandas as pd
>>> value = {"a": [1, 2.5, None], ("k", 1): np.arange(3), "s": pd.Series([1.0, 2.0], index=["x", "y"])}
>>> back = decode(encode(value))
>>> back["a"], back[("k", 1)].tolist(), back["s"].to_dict()
([1, 2.5, None], [0, 1, 2], {'x': 1.0, 'y': 2.0})
>>> encode(lambda: 1)
Traceback (most recent call last):
...
course.sandboxed.values.Unsupported: function
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
from pandas.core.dtypes.dtypes import NumpyEADtype

#: numpy dtype kinds that are plain data (no objects, no structured/void types).
_ARRAY_KINDS = set("biufcmMUS")
#: Refuse to rebuild anything bigger than this many elements in one array (memory guard).
MAX_ELEMENTS = 50_000_000
MAX_DEPTH = 60


class Unsupported(TypeError):
    """The value is not plain data the grader can carry across."""


class Malformed(ValueError):
    """An encoded value that does not follow the format (forged or corrupted)."""


# --------------------------------------------------------------------------------------------
# encoding (runs in the student's sandboxed process)
# --------------------------------------------------------------------------------------------


def _float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"t": "fl", "v": repr(x)}


def _array(arr: np.ndarray, depth: int) -> dict:
    if type(arr) is not np.ndarray:
        raise Unsupported(type(arr).__name__)
    dtype = arr.dtype
    if dtype.kind == "O":
        return {"t": "nd", "o": [_enc(v, depth + 1) for v in arr.ravel(order="C").tolist()],
                "shape": list(arr.shape)}
    if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise Unsupported(f"array of dtype {dtype}")
    data = np.ascontiguousarray(arr)
    return {"t": "nd", "dtype": dtype.str, "shape": list(arr.shape),
            "b": base64.b64encode(data.tobytes()).decode("ascii")}


def _ext_array(values: Any, depth: int) -> dict:
    """A pandas array (numpy-backed or extension) with its dtype."""
    dtype = values.dtype
    if isinstance(dtype, NumpyEADtype):
        dtype = dtype.numpy_dtype
    if isinstance(dtype, np.dtype):
        return {"t": "pa", "np": _array(np.asarray(values), depth)}
    if isinstance(dtype, pd.CategoricalDtype):
        cat = pd.Categorical(values)
        return {"t": "pa", "cat": _array(np.asarray(cat.codes), depth),
                "categories": _index(cat.categories, depth), "ordered": bool(cat.ordered)}
    name = str(dtype)
    if _ext_dtype(name) is None:
        raise Unsupported(f"pandas dtype {name}")
    return {"t": "pa", "dtype": name, "items": [_enc(v, depth + 1) for v in list(values)]}


def _index(index: pd.Index, depth: int) -> dict:
    if type(index) is pd.RangeIndex:
        return {"t": "ix", "range": [index.start, index.stop, index.step], "name": _enc(index.name, depth)}
    if type(index) is pd.MultiIndex:
        return {"t": "ix", "multi": [_index(index.get_level_values(i), depth + 1) for i in range(index.nlevels)],
                "names": [_enc(n, depth) for n in index.names]}
    if not isinstance(index, pd.Index) or type(index).__module__.split(".")[0] != "pandas":
        raise Unsupported(type(index).__name__)
    return {"t": "ix", "values": _ext_array(index.array, depth + 1), "name": _enc(index.name, depth)}


def _enc(value: Any, depth: int = 0) -> Any:  # noqa: C901 (one branch per supported type)
    if depth > MAX_DEPTH:
        raise Unsupported("nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if abs(value) < 2**53 else {"t": "int", "v": str(value)}
    if kind is float:
        return _float(value)
    if kind is complex:
        return {"t": "cx", "v": [_float(value.real), _float(value.imag)]}
    if kind is bytes:
        return {"t": "by", "v": base64.b64encode(value).decode("ascii")}
    if kind is list:
        return [_enc(v, depth + 1) for v in value]
    if kind in (tuple, set, frozenset):
        tag = {tuple: "tu", set: "se", frozenset: "fs"}[kind]
        return {"t": tag, "v": [_enc(v, depth + 1) for v in value]}
    if kind is dict:
        return {"t": "di", "v": [[_enc(k, depth + 1), _enc(v, depth + 1)] for k, v in value.items()]}
    if value is pd.NaT:
        return {"t": "nat"}
    if value is pd.NA:
        return {"t": "na"}
    if kind is pd.Timestamp:
        return {"t": "ts", "v": value.isoformat(), "unit": value.unit, "tz": None if value.tz is None else str(value.tz)}
    if kind is pd.Timedelta:
        return {"t": "td", "v": int(value.value), "unit": value.unit}
    if kind is dt.datetime:
        if value.tzinfo is not None and value.utcoffset() != dt.timedelta(0):
            raise Unsupported("datetime with a non-UTC time zone")
        return {"t": "dt", "v": value.isoformat()}
    if kind is dt.date:
        return {"t": "da", "v": value.isoformat()}
    if kind is dt.timedelta:
        return {"t": "dl", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, np.generic) and kind.__module__ == "numpy":
        if value.dtype.kind not in _ARRAY_KINDS:
            raise Unsupported(f"numpy scalar {kind.__name__}")
        return {"t": "ns", "a": _array(np.asarray(value).reshape(1), depth)}
    if kind is np.ndarray:
        return _array(value, depth)
    if kind is pd.Series:
        return {"t": "sr", "values": _ext_array(value.array, depth + 1), "index": _index(value.index, depth + 1),
                "name": _enc(value.name, depth + 1)}
    if kind is pd.DataFrame:
        return {"t": "df", "index": _index(value.index, depth + 1), "columns": _index(value.columns, depth + 1),
                "data": [_ext_array(value.iloc[:, i].array, depth + 1) for i in range(value.shape[1])]}
    if isinstance(value, pd.Index):
        return _index(value, depth)
    raise Unsupported(kind.__name__)


def encode(value: Any) -> Any:
    """A JSON-ready tree for ``value``; raise :class:`Unsupported` for anything but data."""
    try:
        return _enc(value)
    except RecursionError as exc:
        raise Unsupported("nested too deeply") from exc


def encode_names(namespace: dict, names: list[str]) -> dict:
    """``{"values": {name: tree}, "skipped": {name: reason}}`` for the names that are defined."""
    values: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in names:
        if name not in namespace:
            continue
        try:
            values[name] = encode(namespace[name])
        except Unsupported as exc:
            skipped[name] = str(exc)
        except Exception as exc:  # a hostile object may raise anything from a property
            skipped[name] = f"could not be read ({type(exc).__name__})"
    return {"values": values, "skipped": skipped}


# --------------------------------------------------------------------------------------------
# decoding (runs in the trusted evaluator; input is untrusted)
# --------------------------------------------------------------------------------------------


def _need(cond: bool, what: str = "bad node") -> None:
    if not cond:
        raise Malformed(what)


def _ext_dtype(name: str) -> Any:
    """The pandas extension dtype named ``name`` if it is one we rebuild, else ``None``."""
    try:
        dtype = pd.api.types.pandas_dtype(name)
    except (TypeError, ValueError):
        return None
    allowed = (pd.StringDtype, pd.DatetimeTZDtype, pd.BooleanDtype, pd.Int8Dtype, pd.Int16Dtype,
               pd.Int32Dtype, pd.Int64Dtype, pd.UInt8Dtype, pd.UInt16Dtype, pd.UInt32Dtype,
               pd.UInt64Dtype, pd.Float32Dtype, pd.Float64Dtype)
    return dtype if type(dtype) in allowed else None


def _dec_float(node: Any) -> float:
    if type(node) in (int, float):
        return float(node)
    _need(type(node) is dict and node.get("t") == "fl" and node.get("v") in ("nan", "inf", "-inf"))
    return float(node["v"])


def _dec_array(node: Any, depth: int) -> np.ndarray:
    _need(type(node) is dict and node.get("t") == "nd", "array expected")
    shape = node.get("shape")
    _need(type(shape) is list and all(type(s) is int and s >= 0 for s in shape) and len(shape) <= 32)
    count = math.prod(shape)
    _need(count <= MAX_ELEMENTS, "array too large")
    if "o" in node:
        items = node["o"]
        _need(type(items) is list and len(items) == count)
        out = np.empty(count, dtype=object)
        for i, item in enumerate(items):
            out[i] = _dec(item, depth + 1)
        return out.reshape(shape)
    dtype_str = node.get("dtype")
    _need(type(dtype_str) is str and len(dtype_str) < 40)
    try:
        dtype = np.dtype(dtype_str)
    except TypeError as exc:
        raise Malformed("bad dtype") from exc
    _need(dtype.kind in _ARRAY_KINDS and dtype.fields is None and dtype.subdtype is None, "dtype not allowed")
    raw = base64.b64decode(node.get("b", ""), validate=True)
    _need(len(raw) == count * dtype.itemsize, "array size mismatch")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _dec_pa(node: Any, depth: int) -> Any:
    _need(type(node) is dict and node.get("t") == "pa", "pandas array expected")
    if "np" in node:
        arr = _dec_array(node["np"], depth + 1)
        _need(arr.ndim == 1)
        return arr
    if "cat" in node:
        codes = _dec_array(node["cat"], depth + 1)
        _need(codes.ndim == 1 and codes.dtype.kind == "i")
        categories = _dec_index(node.get("categories"), depth + 1)
        _need(len(codes) == 0 or int(codes.max(initial=-1)) < len(categories))
        return pd.Categorical.from_codes(codes, categories=categories, ordered=bool(node.get("ordered")))
    dtype = _ext_dtype(node.get("dtype")) if type(node.get("dtype")) is str else None
    _need(dtype is not None, "pandas dtype not allowed")
    items = node.get("items")
    _need(type(items) is list and len(items) <= MAX_ELEMENTS)
    return pd.array([_dec(v, depth + 1) for v in items], dtype=dtype)


def _dec_index(node: Any, depth: int) -> pd.Index:
    _need(type(node) is dict and node.get("t") == "ix", "index expected")
    if "range" in node:
        rng = node["range"]
        _need(type(rng) is list and len(rng) == 3 and all(type(x) is int for x in rng) and rng[2] != 0)
        return pd.RangeIndex(*rng, name=_dec(node.get("name"), depth + 1))
    if "multi" in node:
        levels = [_dec_index(level, depth + 1) for level in node["multi"]]
        names = [_dec(n, depth + 1) for n in node.get("names", [])]
        _need(len(levels) >= 1 and len(names) == len(levels) and len({len(x) for x in levels}) == 1)
        return pd.MultiIndex.from_arrays(levels, names=names)
    values = _dec_pa(node.get("values"), depth + 1)
    return pd.Index(values, name=_dec(node.get("name"), depth + 1), tupleize_cols=False)


def _dec(node: Any, depth: int = 0) -> Any:  # noqa: C901
    _need(depth <= MAX_DEPTH * 4, "nested too deeply")
    kind = type(node)
    if node is None or kind in (bool, str, int, float):
        return node
    if kind is list:
        return [_dec(v, depth + 1) for v in node]
    _need(kind is dict, "unexpected node")
    tag = node.get("t")
    if tag == "fl":
        return _dec_float(node)
    if tag == "int":
        _need(type(node.get("v")) is str and len(node["v"]) < 5000)
        return int(node["v"])
    if tag == "cx":
        _need(type(node.get("v")) is list and len(node["v"]) == 2)
        return complex(_dec_float(node["v"][0]), _dec_float(node["v"][1]))
    if tag == "by":
        return base64.b64decode(node.get("v", ""), validate=True)
    if tag in ("tu", "se", "fs"):
        _need(type(node.get("v")) is list)
        items = [_dec(v, depth + 1) for v in node["v"]]
        return {"tu": tuple, "se": set, "fs": frozenset}[tag](items)
    if tag == "di":
        _need(type(node.get("v")) is list and all(type(p) is list and len(p) == 2 for p in node["v"]))
        return {_dec(k, depth + 1): _dec(v, depth + 1) for k, v in node["v"]}
    if tag == "nat":
        return pd.NaT
    if tag == "na":
        return pd.NA
    if tag == "ts":
        _need(type(node.get("v")) is str and node.get("unit") in ("s", "ms", "us", "ns"))
        stamp = pd.Timestamp(node["v"]).as_unit(node["unit"])
        tz = node.get("tz")
        if tz is not None:
            _need(type(tz) is str and len(tz) < 64)
            stamp = stamp.tz_convert(tz)
        return stamp
    if tag == "td":
        _need(type(node.get("v")) is int and node.get("unit") in ("s", "ms", "us", "ns"))
        return pd.Timedelta(node["v"], unit="ns").as_unit(node["unit"])
    if tag == "dt":
        _need(type(node.get("v")) is str)
        return dt.datetime.fromisoformat(node["v"])
    if tag == "da":
        _need(type(node.get("v")) is str)
        return dt.date.fromisoformat(node["v"])
    if tag == "dl":
        _need(type(node.get("v")) is list and len(node["v"]) == 3 and all(type(x) is int for x in node["v"]))
        days, seconds, micro = node["v"]
        return dt.timedelta(days=days, seconds=seconds, microseconds=micro)
    if tag == "ns":
        arr = _dec_array(node.get("a"), depth + 1)
        _need(arr.shape == (1,))
        return arr[0]
    if tag == "nd":
        return _dec_array(node, depth)
    if tag == "ix":
        return _dec_index(node, depth)
    if tag == "sr":
        values = _dec_pa(node.get("values"), depth + 1)
        index = _dec_index(node.get("index"), depth + 1)
        _need(len(values) == len(index), "series length mismatch")
        return pd.Series(values, index=index, name=_dec(node.get("name"), depth + 1), copy=False)
    if tag == "df":
        index = _dec_index(node.get("index"), depth + 1)
        columns = _dec_index(node.get("columns"), depth + 1)
        data = node.get("data")
        _need(type(data) is list and len(data) == len(columns))
        arrays = [_dec_pa(col, depth + 1) for col in data]
        _need(all(len(a) == len(index) for a in arrays), "frame column length mismatch")
        frame = pd.DataFrame({i: pd.Series(a, index=index, copy=False) for i, a in enumerate(arrays)}, index=index)
        frame.columns = columns
        return frame
    raise Malformed(f"unknown tag {str(tag)[:20]!r}")


def decode(tree: Any) -> Any:
    """Rebuild a value from :func:`encode`'s output; raise :class:`Malformed` on anything else."""
    try:
        return _dec(tree)
    except Malformed:
        raise
    except (RecursionError, TypeError, ValueError, KeyError, OverflowError, AttributeError) as exc:
        raise Malformed(f"{type(exc).__name__}: {exc}") from exc


def decode_names(snapshot: Any, allowed: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values for the ``allowed`` names in an encoded snapshot; problems by name."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    if type(snapshot) is not dict or type(snapshot.get("values")) is not dict:
        return values, {"*": "snapshot is malformed"}
    for name, tree in snapshot["values"].items():
        if name not in allowed:
            continue
        try:
            values[name] = decode(tree)
        except Malformed as exc:
            problems[name] = f"malformed value ({exc})"
    skipped = snapshot.get("skipped")
    if type(skipped) is dict:
        for name, reason in skipped.items():
            if name in allowed and type(reason) is str:
                problems[name] = reason[:200]
    return values, problems
