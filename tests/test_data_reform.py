"""Calibration and seed behaviour of course.data.reform (case 06, marketing-system reform)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course.data import reform
from course.data.real import rdataset

SEEDS = [None, 1, 7, 42, 2**31 - 1]


# --------------------------------------------------------------------------------------------
# Real data: PBS series
# --------------------------------------------------------------------------------------------


def test_pbs_default_is_the_published_data():
    pbs = reform.load_pbs()
    assert list(pbs.columns) == ["series", "date", "year", "month", "time", "value"]
    for name, source in reform.PBS_SOURCES.items():
        raw = rdataset(*source)
        part = pbs[pbs["series"] == name]
        assert len(part) == reform.PBS_MONTHS == len(raw)
        np.testing.assert_array_equal(part["value"].to_numpy(), raw["value"].to_numpy())
        # July 1991 to June 2008, one row per month, in order
        assert part["date"].iloc[0] == pd.Timestamp("1991-07-01")
        assert part["date"].iloc[-1] == pd.Timestamp("2008-06-01")
        steps = np.diff(part["year"].to_numpy() * 12 + part["month"].to_numpy())
        assert (steps == 1).all()
        np.testing.assert_allclose(part["time"], part["year"] + (part["month"] - 1) / 12, atol=1e-6)


@pytest.mark.parametrize("seed", [1, 7, 42, 2**31 - 1])
def test_pbs_variant_is_a_window_of_the_real_series(seed):
    pbs = reform.load_pbs(seed)
    start, length = reform.pbs_window(seed)
    assert reform.PBS_WINDOW_MONTHS[0] <= length <= reform.PBS_WINDOW_MONTHS[1]
    for name, source in reform.PBS_SOURCES.items():
        part = pbs[pbs["series"] == name]
        raw = rdataset(*source)["value"].to_numpy()[start : start + length]
        np.testing.assert_array_equal(part["value"].to_numpy(), raw)
    a10, h02 = (pbs[pbs["series"] == n]["date"].to_numpy() for n in ("a10", "h02"))
    np.testing.assert_array_equal(a10, h02)


def _seasonal(values: np.ndarray, months: np.ndarray) -> np.ndarray:
    ratio = values[6:-6] / np.convolve(values, np.r_[0.5, np.ones(11), 0.5] / 12, mode="valid")
    idx = np.array([ratio[months[6:-6] == k].mean() for k in range(1, 13)])
    return idx / idx.mean()


@pytest.mark.parametrize("seed", SEEDS)
def test_pbs_lessons_hold_in_every_window(seed):
    """The notebook's chart titles: a10 grows faster than h02; Jan/Dec peaks, February trough."""
    pbs = reform.load_pbs(seed)
    growth = {}
    for name in ("a10", "h02"):
        part = pbs[pbs["series"] == name]
        y, m = part["value"].to_numpy(), part["month"].to_numpy()
        growth[name] = y[-12:].sum() / y[:12].sum()
        season = _seasonal(y, m)
        assert int(np.argmin(season)) + 1 == 2
        assert int(np.argmax(season)) + 1 in (12, 1)
    assert growth["a10"] > 1.5 * growth["h02"] > 1.5


# --------------------------------------------------------------------------------------------
# Simulated data
# --------------------------------------------------------------------------------------------


def test_sales_shape_and_columns():
    sales = reform.load_sales()
    assert list(sales.columns) == ["province", "distributor", "terminal", "product", "year", "quarter", "sales"]
    assert set(sales["province"]) == set(reform.PROVINCES)
    assert set(sales["product"]) == set(reform.PRODUCTS)
    assert set(sales["terminal"]) == set(reform.TERMINALS)
    assert sorted(sales["year"].unique()) == list(reform.YEARS)
    assert (sales["sales"] > 0).all()
    # every distributor belongs to exactly one province; counts within the documented bounds
    assert (sales.groupby("distributor")["province"].nunique() == 1).all()
    n = sales.groupby("province")["distributor"].nunique()
    assert n.between(reform.DISTRIBUTORS_MIN, reform.DISTRIBUTORS_MAX).all()
    cells = n.sum() * len(reform.TERMINALS) * len(reform.PRODUCTS) * len(reform.YEARS) * 4
    assert len(sales) == cells


@pytest.mark.parametrize("seed", SEEDS)
def test_first_year_matches_the_documented_mix(seed):
    sales = reform.load_sales(seed)
    first = sales[sales["year"] == reform.YEARS[0]]
    assert first["sales"].sum() == pytest.approx(reform.FIRM_SALES_2008, rel=0.05)
    mix = first.groupby("product")["sales"].sum() / first["sales"].sum()
    for product, share in reform.PRODUCT_MIX.items():
        assert mix[product] == pytest.approx(share, rel=0.1)


def _portfolio(seed, year):
    sales = reform.load_sales(seed)
    markets = reform.load_markets(seed).set_index(["product", "year"])
    own = sales[sales["year"] == year].groupby("product")["sales"].sum()
    growth = markets["market_sales"].xs(year, level="year") / markets["market_sales"].xs(year - 1, level="year") - 1
    rel = own / markets["leader_rival_sales"].xs(year, level="year")
    return growth, rel, own


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("year", [2009, 2010])
def test_product_a_is_the_only_star_and_quadrants_follow_the_targets(seed, year):
    growth, rel, own = _portfolio(seed, year)
    stars = sorted(p for p in reform.PRODUCTS if growth[p] >= reform.STAR_GROWTH and rel[p] >= reform.STAR_REL_SHARE)
    assert stars == ["A"]
    assert own.idxmax() == "A"
    for p in reform.PRODUCTS:
        # each product stays on its target's side of both thresholds, clear of them
        assert (growth[p] >= reform.STAR_GROWTH) == (reform.MARKET_GROWTH[p] >= reform.STAR_GROWTH)
        assert (rel[p] >= reform.STAR_REL_SHARE) == (reform.RELATIVE_SHARE[p] >= reform.STAR_REL_SHARE)
        assert abs(growth[p] - reform.STAR_GROWTH) >= reform.GROWTH_MARGIN - 1e-12
        assert abs(rel[p] - reform.STAR_REL_SHARE) >= reform.SHARE_MARGIN - 1e-12


@pytest.mark.parametrize("seed", SEEDS)
def test_markets_are_consistent(seed):
    markets = reform.load_markets(seed)
    assert list(markets.columns) == ["product", "category", "year", "market_sales", "leader_rival_sales"]
    assert len(markets) == len(reform.PRODUCTS) * len(reform.YEARS)
    own = reform.load_sales(seed).groupby(["product", "year"])["sales"].sum()
    merged = markets.set_index(["product", "year"]).join(own)
    # the firm and its largest rival together never exceed the whole market
    assert (merged["sales"] + merged["leader_rival_sales"] < merged["market_sales"]).all()


def test_zipf_exponent_hits_the_target():
    s = reform.zipf_exponent()
    w = np.arange(1, len(reform.PROVINCES) + 1, dtype=float) ** -s
    assert w[:5].sum() / w.sum() == pytest.approx(reform.TOP5_SHARE_TARGET, abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_top5_provinces_share_is_near_target(seed):
    sales = reform.load_sales(seed)
    by_prov = sales[sales["year"] == 2010].groupby("province")["sales"].sum().sort_values(ascending=False)
    share = by_prov.iloc[:5].sum() / by_prov.sum()
    assert share == pytest.approx(reform.TOP5_SHARE_TARGET, abs=0.03)
    # the base-market rule picks a handful of provinces
    running = (by_prov / by_prov.sum()).cumsum()
    n_base = int((running < reform.BASE_MARKET_SHARE).sum()) + 1
    assert 2 <= n_base <= 6


@pytest.mark.parametrize("seed", SEEDS)
def test_distributor_hhi_matches_dirichlet_expectation(seed):
    """Mean HHI is near E[HHI] = (alpha + 1) / (n alpha + 1) averaged over provinces."""
    sales = reform.load_sales(seed)
    y = sales[sales["year"] == 2010]
    d = y.groupby(["province", "distributor"])["sales"].sum()
    shares = d / d.groupby(level="province").transform("sum")
    hhi = (shares**2).groupby(level="province").sum()
    n = y.groupby("province")["distributor"].nunique()
    alpha = reform.DISTRIBUTOR_ALPHA
    expected = ((alpha + 1) / (n * alpha + 1)).mean()
    assert hhi.mean() == pytest.approx(expected, abs=0.06)
    assert (hhi >= 1 / n - 1e-12).all() and (hhi <= 1).all()
    assert 0.2 <= hhi.median() <= 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_terminal_coverage_near_targets_and_deeper_in_strong_provinces(seed):
    terms = reform.load_terminals(seed)
    assert list(terms.columns) == ["province", "terminal", "target", "covered"]
    assert len(terms) == len(reform.PROVINCES) * len(reform.TERMINALS)
    assert ((terms["covered"] >= 0) & (terms["covered"] <= terms["target"])).all()
    national = terms.groupby("terminal")[["covered", "target"]].sum()
    for t, rate in reform.COVERAGE_TARGET.items():
        assert national.loc[t, "covered"] / national.loc[t, "target"] == pytest.approx(rate, abs=0.03)
    sales = reform.load_sales(seed)
    by_prov = sales.groupby("province")["sales"].sum()
    pooled = terms.groupby("province")[["covered", "target"]].sum()
    coverage = pooled["covered"] / pooled["target"]
    assert by_prov.rank().corr(coverage.loc[by_prov.index].rank()) > 0.5


@pytest.mark.parametrize("loader", [reform.load_sales, reform.load_markets, reform.load_terminals, reform.load_pbs])
def test_same_seed_same_frame_and_seeds_differ(loader):
    pd.testing.assert_frame_equal(loader(), loader(None))
    pd.testing.assert_frame_equal(loader(3), loader(3))
    a, b = loader(3), loader(4)
    assert not (a.shape == b.shape and a.equals(b))
    assert not loader(None).equals(loader(3))


def test_loaders_return_copies():
    first = reform.load_sales()
    first.loc[0, "sales"] = -1.0
    assert reform.load_sales().loc[0, "sales"] > 0
