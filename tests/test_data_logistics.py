"""Calibration and seed behaviour of course.data.logistics (case 02, logistics and pooling).

Expected values are derived: from the generator's documented parameters (rho, CV range, store
sizes), from Eppen's (1979) formula, or, for the real pizzaplace data, from the brief's figures
(module constants) plus an independent identity (Eppen's formula with the mean correlation).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from course.data import logistics

SEEDS = [None, 1, 2]
RHOS = [0.0, 0.2, 0.5]
#: Absolute tolerance on the realised mean pairwise cross-store correlation. Over 40 seeds its
#: standard deviation was 0.012 at rho 0.2 and 0.016 at rho 0.5 (104 weeks, heavy-tailed gamma
#: demand for CV near 1), so 0.05 is about 3 standard deviations.
CORR_TOL = 0.05
#: Relative tolerance on the DC/store CV ratio against Eppen's equal-store formula: unequal store
#: sizes (lognormal sigma 0.3) raise the ratio by about sqrt(1 + 0.3**2) - 1, i.e. 4.5% at rho 0,
#: and sampling noise adds a standard deviation of about 3%.
EPPEN_TOL = 0.12
#: The same ratio against Eppen's formula corrected for the actual store sizes: noise only.
EPPEN_SIZED_TOL = 0.10


def _array(seed, rho=logistics.DEFAULT_RHO) -> np.ndarray:
    """Demand as (stores, SKUs, weeks), rebuilt from the long frame (not the generator array)."""
    frame = logistics.load_demand(seed, rho=rho).sort_values(["store", "sku", "week"])
    shape = (frame["store"].nunique(), frame["sku"].nunique(), frame["week"].nunique())
    return frame["units"].to_numpy(dtype=float).reshape(shape)


def _mean_pairwise_corr(x: np.ndarray) -> float:
    n = x.shape[0]
    upper = np.triu_indices(n, 1)
    return float(np.mean([np.corrcoef(x[:, k, :])[upper].mean() for k in range(x.shape[1])]))


def _cv_ratio(x: np.ndarray) -> float:
    store_cv = (x.std(axis=2, ddof=1) / x.mean(axis=2)).mean()
    dc = x.sum(axis=0)
    dc_cv = (dc.std(axis=1, ddof=1) / dc.mean(axis=1)).mean()
    return float(dc_cv / store_cv)


# ---- simulated demand ------------------------------------------------------------------------


def test_shape_columns_and_types():
    frame = logistics.load_demand()
    n = logistics.N_STORES * logistics.N_SKUS * logistics.N_WEEKS
    assert list(frame.columns) == ["store", "sku", "week", "units"]
    assert len(frame) == n
    assert frame["store"].nunique() == logistics.N_STORES
    assert frame["sku"].nunique() == logistics.N_SKUS
    assert sorted(frame["week"].unique()) == list(range(1, logistics.N_WEEKS + 1))
    assert pd.api.types.is_integer_dtype(frame["units"])
    assert (frame["units"] >= 0).all()
    assert not frame.duplicated(["store", "sku", "week"]).any()


def test_same_seed_same_frame_and_seeds_differ():
    assert logistics.load_demand(5).equals(logistics.load_demand(5))
    assert logistics.load_demand().equals(logistics.load_demand(logistics.DEFAULT_SEED))
    assert not logistics.load_demand(5)["units"].equals(logistics.load_demand(6)["units"])
    assert not logistics.load_demand()["units"].equals(logistics.load_demand(1)["units"])


def test_loader_returns_copies():
    frame = logistics.load_demand()
    frame.loc[0, "units"] = -1
    assert logistics.load_demand().loc[0, "units"] >= 0


def test_rho_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError):
        logistics.load_demand(rho=1.5)


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_demand_is_size_times_base(seed):
    x = _array(seed)
    params = logistics.sku_parameters(seed)
    size = logistics.store_sizes(seed).to_numpy()
    expected = size[:, None] * params["base_mean"].to_numpy()[None, :]
    # 104 weeks of demand with CV <= 1: the total over all series is within a few percent.
    assert x.mean() == pytest.approx(expected.mean(), rel=0.05)
    assert params["base_mean"].between(*logistics.BASE_MEAN_RANGE).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_store_level_cv_is_in_the_documented_range(seed):
    x = _array(seed)
    params = logistics.sku_parameters(seed)
    assert params["cv"].between(*logistics.CV_RANGE).all()
    realised = (x.std(axis=2, ddof=1) / x.mean(axis=2)).mean(axis=0)  # per SKU, over stores
    low, high = logistics.CV_RANGE
    assert (realised > 0.9 * low).all() and (realised < 1.1 * high).all()
    # each SKU's realised store-level CV tracks its parameter (40 stores × 104 weeks)
    assert np.allclose(realised, params["cv"].to_numpy(), rtol=0.15)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rho", RHOS)
def test_cross_store_correlation_matches_rho(seed, rho):
    assert _mean_pairwise_corr(_array(seed, rho)) == pytest.approx(rho, abs=CORR_TOL)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rho", RHOS)
def test_dc_cv_follows_eppen(seed, rho):
    x = _array(seed, rho)
    n = x.shape[0]
    ratio = _cv_ratio(x)
    assert ratio == pytest.approx(math.sqrt((1 + (n - 1) * rho) / n), rel=EPPEN_TOL)
    size = logistics.store_sizes(seed).to_numpy()
    sized = math.sqrt(rho + (1 - rho) * (size**2).sum() / size.sum() ** 2)
    assert ratio == pytest.approx(sized, rel=EPPEN_SIZED_TOL)


def test_more_correlation_means_less_pooling():
    ratios = [_cv_ratio(_array(None, rho)) for rho in RHOS]
    assert ratios == sorted(ratios)
    assert ratios[0] < 1.5 / math.sqrt(logistics.N_STORES)


def test_eppen_identity_holds_for_the_dc_total():
    """Var(sum) = sum of all covariances: the Eppen formula with measured rho_ij is exact."""
    x = _array(None)[:, 0, :]  # SKU K01: stores × weeks
    sigma = x.std(axis=1, ddof=1)
    corr = np.corrcoef(x)
    assert math.sqrt(sigma @ corr @ sigma) == pytest.approx(x.sum(axis=0).std(ddof=1), rel=1e-9)


# ---- real pizzaplace order lines -------------------------------------------------------------


def _daily_units(orders: pd.DataFrame) -> np.ndarray:
    """Days × types counts with numpy (zero where a type sold nothing on a trading day)."""
    days, day_idx = np.unique(orders["date"].to_numpy(dtype=str), return_inverse=True)
    names, name_idx = np.unique(orders["name"].to_numpy(dtype=str), return_inverse=True)
    counts = np.zeros((len(days), len(names)))
    np.add.at(counts, (day_idx, name_idx), 1)
    return counts


def test_pizza_default_is_the_published_table():
    orders = logistics.load_pizza_orders()
    assert len(orders) == 49_574
    assert orders["name"].nunique() == logistics.PIZZA_N_TYPES
    assert {"id", "date", "time", "name", "size", "type", "price"} <= set(orders.columns)


def test_pizza_variants_are_reproducible_subsets():
    full = logistics.load_pizza_orders()
    one = logistics.load_pizza_orders(seed=1)
    assert len(one) == round(logistics.PIZZA_VARIANT_FRACTION * len(full))
    assert one.equals(logistics.load_pizza_orders(seed=1))
    assert not one.equals(logistics.load_pizza_orders(seed=2))
    assert one["name"].nunique() == logistics.PIZZA_N_TYPES
    assert one["date"].nunique() == full["date"].nunique()


def test_pizza_pooling_figures_of_the_brief():
    daily = _daily_units(logistics.load_pizza_orders())
    sd = daily.std(axis=0, ddof=1)
    total = daily.sum(axis=1)
    corr = np.corrcoef(daily.T)[np.triu_indices(daily.shape[1], 1)]
    assert (sd / daily.mean(axis=0)).mean() == pytest.approx(logistics.PIZZA_MEAN_TYPE_CV, abs=0.005)
    assert total.std(ddof=1) / total.mean() == pytest.approx(logistics.PIZZA_TOTAL_CV, abs=0.005)
    assert sd.sum() / total.std(ddof=1) == pytest.approx(logistics.PIZZA_POOLING_RATIO, abs=0.05)
    assert corr.mean() == pytest.approx(logistics.PIZZA_MEAN_CORRELATION, abs=0.005)


@pytest.mark.parametrize("seed", SEEDS)
def test_pizza_correlation_explains_the_pooling_gap(seed):
    """Eppen with one average correlation predicts the ratio; independence would predict ~√32."""
    daily = _daily_units(logistics.load_pizza_orders(seed))
    sd = daily.std(axis=0, ddof=1)
    total_sd = daily.sum(axis=1).std(ddof=1)
    rho = np.corrcoef(daily.T)[np.triu_indices(daily.shape[1], 1)].mean()
    cross = np.outer(sd, sd).sum() - (sd**2).sum()
    predicted = sd.sum() / math.sqrt((sd**2).sum() + rho * cross)
    assert sd.sum() / total_sd == pytest.approx(predicted, rel=0.05)
    independent = sd.sum() / math.sqrt((sd**2).sum())
    assert independent == pytest.approx(math.sqrt(logistics.PIZZA_N_TYPES), rel=0.05)
    assert sd.sum() / total_sd < independent / 1.5


# ---- fashion item ----------------------------------------------------------------------------


def _policy_gain(item: dict, sd: float) -> float:
    """Quick response minus the best single order, by numerical integration over normal demand."""
    p, c1, c2, v = item["price"], item["cost_far_east"], item["cost_europe"], item["salvage"]
    mu = item["mean_demand"]
    d = np.linspace(mu - 12 * sd, mu + 12 * sd, 200_001)
    w = np.exp(-0.5 * ((d - mu) / sd) ** 2)
    w /= np.trapezoid(w, d)
    cdf = np.concatenate([[0.0], np.cumsum((w[1:] + w[:-1]) / 2 * np.diff(d))])
    q = float(np.interp((p - c1) / (p - v), cdf, d))
    single = p * np.minimum(d, q) + v * np.maximum(q - d, 0) - c1 * q
    q1 = item["commit_share"] * mu
    reactive = p * d - c1 * q1 - c2 * np.maximum(d - q1, 0) + v * np.maximum(q1 - d, 0)
    return float(np.trapezoid((reactive - single) * w, d))


def test_fashion_default_is_the_documented_item():
    assert logistics.fashion_item() == logistics.DEFAULT_FASHION
    item = logistics.fashion_item()
    item["price"] = 0
    assert logistics.fashion_item()["price"] == logistics.DEFAULT_FASHION["price"]


@pytest.mark.parametrize("seed", [None, *range(1, 21)])
def test_fashion_items_are_plausible_and_tell_the_same_story(seed):
    item = logistics.fashion_item(seed)
    assert item == logistics.fashion_item(seed)
    assert item["salvage"] < item["cost_far_east"] < item["cost_europe"] < item["price"]
    assert min(logistics.FASHION_COMMIT_SHARES) <= item["commit_share"] <= max(logistics.FASHION_COMMIT_SHARES)
    cv = item["sd_demand"] / item["mean_demand"]
    assert 0.29 <= cv <= 0.41
    # negative demand is negligible, so the normal model is acceptable
    assert item["mean_demand"] / item["sd_demand"] > 2.4
    # the article's point: reacting pays when demand is uncertain, not when it is predictable
    assert _policy_gain(item, item["sd_demand"]) > 0
    assert _policy_gain(item, 0.1 * item["mean_demand"]) < 0


def test_fashion_items_differ_between_seeds():
    items = [tuple(logistics.fashion_item(s).values()) for s in range(1, 11)]
    assert len(set(items)) == len(items)
    assert len({logistics.fashion_item(s)["price"] for s in range(1, 11)}) > 3
