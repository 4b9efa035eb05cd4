"""Checks for test cells: visible checks that teach, hidden checks that grade.

Every check raises :class:`CheckFailed` (an ``AssertionError``) with a message written for the
student, and returns ``None`` so a test cell never ends with a value (nbgrader would read a
number printed by a test cell as partial credit).

Types are checked before values: answers are converted to plain Python numbers or exact pandas
objects first, so an object that overrides ``==`` earns nothing.

>>> check_number(0.25, "share", low=0, high=1)
>>> expect_close(0.2500001, 0.25, "share", rel=1e-4)
>>> as_number(True, "share")
Traceback (most recent call last):
...
course.checks.CheckFailed: `share` should be a number (int or float), but it is a bool.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from course import i18n


class CheckFailed(AssertionError):
    """A check failed; the message says what to look at."""


def _fail(message: str, **values: object) -> None:
    """Fail with ``message`` (an English ``str.format`` template) in the notebook's language."""
    raise CheckFailed(i18n.text(message, **values))


def _kind(value: object) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------------------------
# Conversions (type checks)
# --------------------------------------------------------------------------------------------


def as_number(value: object, name: str) -> float:
    """``value`` as a plain float; fails unless it is a real int/float (numpy scalars allowed)."""
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        value = value.item()
    if type(value) not in (int, float):
        hint = ""
        if isinstance(value, (pd.Series, pd.DataFrame, np.ndarray, list, tuple)):
            hint = i18n.text(" Reduce it to a single number (for example with .mean(), .sum() or .iloc[0]).")
        elif isinstance(value, str):
            hint = i18n.text(" Do not format the number as text; keep it numeric.")
        elif value is None:
            hint = i18n.text(" Did the cell compute it but forget to assign it?")
        _fail("`{name}` should be a number (int or float), but it is a {kind}.{hint}",
              name=name, kind=_kind(value), hint=hint)
    number = float(value)  # type: ignore[arg-type]  # an int or float, checked above
    if not math.isfinite(number):
        _fail("`{name}` is {number}; check for a division by zero or missing values.", name=name, number=number)
    return number


def as_series(value: object, name: str) -> pd.Series:
    """``value`` if it is exactly a pandas Series."""
    if type(value) is not pd.Series:
        hint = i18n.text(" A one-column DataFrame can be turned into a Series with df['column'].") \
            if isinstance(value, pd.DataFrame) else ""
        _fail("`{name}` should be a pandas Series, but it is a {kind}.{hint}", name=name, kind=_kind(value), hint=hint)
    return value


def as_frame(value: object, name: str) -> pd.DataFrame:
    """``value`` if it is exactly a pandas DataFrame."""
    if type(value) is not pd.DataFrame:
        hint = i18n.text(" Use .to_frame() or .reset_index() to turn a Series into a DataFrame.") \
            if isinstance(value, pd.Series) else ""
        _fail("`{name}` should be a pandas DataFrame, but it is a {kind}.{hint}", name=name, kind=_kind(value), hint=hint)
    return value


def _float_values(series: pd.Series, name: str) -> np.ndarray:
    try:
        values = np.asarray(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    except (TypeError, ValueError):
        _fail("`{name}` should hold numbers, but its values are of type {dtype}.", name=name, dtype=series.dtype)
    if np.isnan(values).any():
        _fail("`{name}` has missing values (NaN); check your join or division.", name=name)
    return values


# --------------------------------------------------------------------------------------------
# Visible checks: shape, type, sign, range. They never reveal the expected value.
# --------------------------------------------------------------------------------------------


def check_number(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    hint: str = "",
) -> None:
    """``value`` is a number within ``[low, high]``; ``hint`` says what a miss usually means."""
    number = as_number(value, name)
    tail = f" {hint}" if hint else ""
    if low is not None and number < low:
        _fail("`{name}` = {number:.6g} is below {low:g}, which is not possible here.{tail}",
              name=name, number=number, low=low, tail=tail)
    if high is not None and number > high:
        _fail("`{name}` = {number:.6g} is above {high:g}, which is not possible here.{tail}",
              name=name, number=number, high=high, tail=tail)


def check_series(
    value: object,
    name: str,
    *,
    length: int | None = None,
    index: Sequence | None = None,
    low: float | None = None,
    high: float | None = None,
    hint: str = "",
) -> None:
    """``value`` is a numeric Series of the given length/index labels, values within bounds."""
    series = as_series(value, name)
    tail = f" {hint}" if hint else ""
    if length is not None and len(series) != length:
        _fail("`{name}` has {n} entries; it should have {length}.{tail}", name=name, n=len(series), length=length,
              tail=tail)
    if index is not None:
        missing = [label for label in index if label not in series.index]
        if missing or len(series) != len(index):
            _fail("`{name}` should be indexed by {index!r}; got {got!r}.{tail}", name=name, index=list(index),
                  got=list(series.index)[:10], tail=tail)
    values = _float_values(series, name)
    if low is not None and (values < low).any():
        _fail("`{name}` has values below {low:g}, which is not possible here.{tail}", name=name, low=low, tail=tail)
    if high is not None and (values > high).any():
        _fail("`{name}` has values above {high:g}, which is not possible here.{tail}", name=name, high=high, tail=tail)


def check_frame(
    value: object,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    n_rows: int | None = None,
    hint: str = "",
) -> None:
    """``value`` is a DataFrame with (at least) these columns and this many rows."""
    frame = as_frame(value, name)
    tail = f" {hint}" if hint else ""
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            _fail("`{name}` is missing column(s) {missing!r}; it has {columns!r}.{tail}", name=name, missing=missing,
                  columns=list(frame.columns), tail=tail)
    if n_rows is not None and len(frame) != n_rows:
        _fail("`{name}` has {n} rows; it should have {n_rows}.{tail}", name=name, n=len(frame), n_rows=n_rows, tail=tail)


def check_not_mistake(
    value: object,
    mistaken: float,
    name: str,
    *,
    abs_tol: float = 0.0,
    rel: float = 0.0,
    hint: str,
) -> None:
    """``value`` is not what a known mistake gives: fails with ``hint`` if it is within
    ``abs_tol`` (or ``rel``) of ``mistaken``, the result of that mistake recomputed by the check.

    For visible checks that catch a mistake they can recompute without revealing the answer
    (the same share over all customers instead of individuals, a wrong baseline window).
    Use it only where the data guarantee that the right answer is farther from ``mistaken`` than
    the tolerance (a data test should say so).

    >>> check_not_mistake(0.760, 0.749, "share", abs_tol=0.0005, hint="Keep individuals only.")
    >>> check_not_mistake(0.7491, 0.749, "share", abs_tol=0.0005, hint="Keep individuals only.")
    Traceback (most recent call last):
    ...
    course.checks.CheckFailed: `share` looks like the result of a common mistake. Keep individuals only.
    """
    number = as_number(value, name)
    if math.isclose(number, float(mistaken), rel_tol=rel, abs_tol=abs_tol):
        _fail("`{name}` looks like the result of a common mistake. {hint}", name=name, hint=hint)


# --------------------------------------------------------------------------------------------
# Hidden checks: compare against a value recomputed from the data, with a tolerance.
# Messages do not reveal the expected value (they end up in feedback).
# --------------------------------------------------------------------------------------------


def expect_close(
    value: object, expected: float, name: str, *, rel: float = 1e-3, abs_tol: float = 0.0
) -> None:
    """``value`` is a number within ``rel`` (relative) or ``abs_tol`` of ``expected``."""
    number = as_number(value, name)
    target = float(expected)
    if not math.isclose(number, target, rel_tol=rel, abs_tol=abs_tol):
        _fail("`{name}` is not correct yet; re-read the task's definition and units.", name=name)


def expect_series_close(
    value: object, expected: pd.Series, name: str, *, rel: float = 1e-3, abs_tol: float = 0.0
) -> None:
    """Same labels (any order) and values within tolerance."""
    series = as_series(value, name)
    if series.index.has_duplicates:
        _fail("`{name}` has repeated index labels; aggregate before answering.", name=name)
    if set(series.index) != set(expected.index):
        _fail("`{name}` does not have the expected index labels.", name=name)
    got = _float_values(series.loc[list(expected.index)], name)
    want = np.asarray(expected.to_numpy(dtype=float), dtype=float)
    if not np.allclose(got, want, rtol=rel, atol=abs_tol):
        _fail("`{name}` has the right labels but some values are not correct yet.", name=name)


def expect_frame_close(
    value: object,
    expected: pd.DataFrame,
    name: str,
    *,
    rel: float = 1e-3,
    abs_tol: float = 0.0,
    check_index: bool = True,
) -> None:
    """Same columns (any order), same rows (by index when ``check_index``), values close."""
    frame = as_frame(value, name)
    if set(frame.columns) != set(expected.columns):
        _fail("`{name}` should have columns {columns!r}.", name=name, columns=sorted(map(str, expected.columns)))
    if len(frame) != len(expected):
        _fail("`{name}` has {n} rows; it should have {n_rows}.{tail}", name=name, n=len(frame), n_rows=len(expected),
              tail="")
    if check_index:
        if frame.index.has_duplicates or set(frame.index) != set(expected.index):
            _fail("`{name}` does not have the expected row labels.", name=name)
        frame = frame.loc[list(expected.index)]
    for column in expected.columns:
        want = expected[column]
        got = frame[column]
        if pd.api.types.is_numeric_dtype(want):
            if not np.allclose(_float_values(got, f"{name}[{column!r}]"), want.to_numpy(dtype=float), rtol=rel, atol=abs_tol):
                _fail("`{name}` column {column!r} is not correct yet.", name=name, column=column)
        elif [str(v) for v in got] != [str(v) for v in want]:
            _fail("`{name}` column {column!r} is not correct yet.", name=name, column=column)


def expect_equal_text(value: object, expected: str, name: str) -> None:
    """``value`` is exactly the string ``expected`` (case and surrounding space ignored)."""
    if type(value) is not str:
        _fail("`{name}` should be a string, but it is a {kind}.", name=name, kind=_kind(value))
    if str(value).strip().lower() != str(expected).strip().lower():
        _fail("`{name}` is not correct yet.", name=name)
