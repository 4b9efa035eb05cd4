"""Calibration and seed behaviour of the case 05 data (course/data/insurance.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course.data import insurance

SEEDS = [None, 1, 2, 17, 123_456]


def _individual_policies(seed):
    customers = insurance.load_customers(seed)
    policies = insurance.load_policies(seed)
    individual = customers.loc[customers["customer_type"] == "individual", "customer_id"]
    return individual, policies[policies["customer_id"].isin(individual)]


def _long_counts(seed) -> np.ndarray:
    """Long-term policies per individual customer (zeros included), by numpy bincount."""
    individual, pol = _individual_policies(seed)
    codes = pd.Categorical(pol.loc[pol["long_term"], "customer_id"], categories=individual)
    return np.bincount(codes.codes, minlength=len(individual))


# ---- shapes and keys ---------------------------------------------------------------------------


def test_columns_and_types():
    customers = insurance.load_customers()
    policies = insurance.load_policies()
    assert list(customers.columns) == ["customer_id", "customer_type", "region", "since_year"]
    assert list(policies.columns) == [
        "policy_id", "customer_id", "company", "product", "long_term", "annual_premium"
    ]
    assert len(customers) == insurance.N_CUSTOMERS
    assert customers["customer_id"].is_unique and policies["policy_id"].is_unique
    assert policies["long_term"].dtype == bool
    assert pd.api.types.is_float_dtype(policies["annual_premium"])
    assert (policies["annual_premium"] > 0).all()
    assert set(policies["company"]) == set(insurance.COMPANIES)


def test_every_customer_holds_a_policy_and_keys_match():
    customers = insurance.load_customers()
    policies = insurance.load_policies()
    assert set(policies["customer_id"]) == set(customers["customer_id"])


def test_products_belong_to_one_company_and_one_term():
    policies = insurance.load_policies()
    per_product = policies.groupby("product")[["company", "long_term"]].nunique()
    assert (per_product == 1).all().all()
    tables = insurance.LONG_PRODUCTS + insurance.SHORT_PRODUCTS + insurance.GROUP_PRODUCTS
    expected = {row[0]: row[1] for row in tables}
    got = policies.groupby("product")["company"].first().to_dict()
    assert got == expected


def test_corporate_share():
    for seed in SEEDS:
        share = (insurance.load_customers(seed)["customer_type"] == "corporate").mean()
        sd = np.sqrt(insurance.SHARE_CORPORATE * (1 - insurance.SHARE_CORPORATE) / insurance.N_CUSTOMERS)
        assert abs(share - insurance.SHARE_CORPORATE) < 5 * sd


# ---- seeds -------------------------------------------------------------------------------------


def test_default_is_default_seed_and_deterministic():
    assert insurance.load_policies().equals(insurance.load_policies(insurance.DEFAULT_SEED))
    assert insurance.load_policies(5).equals(insurance.load_policies(5))
    assert insurance.load_customers(5).equals(insurance.load_customers(5))


def test_seeds_differ():
    a, b = insurance.load_policies(1), insurance.load_policies(2)
    assert len(a) != len(b) or not a["annual_premium"].equals(b["annual_premium"])
    assert not insurance.load_customers(1)["region"].equals(insurance.load_customers(2)["region"])


def test_loaders_return_copies():
    policies = insurance.load_policies()
    policies.loc[:, "annual_premium"] = 0.0
    assert (insurance.load_policies()["annual_premium"] > 0).all()


# ---- calibration to the article ----------------------------------------------------------------


def test_article_constants():
    """The module's article figures: 76%, 10% uptake, 12亿元 = 1.2 billion yuan."""
    assert insurance.ARTICLE_SHARE_ONE_LONG == pytest.approx(76 / 100)
    assert insurance.ARTICLE_UPTAKE == pytest.approx(10 / 100)
    assert insurance.ARTICLE_NEW_PREMIUM_YUAN == pytest.approx(12 * 1e8)  # 亿 = 10^8
    assert insurance.LONG_COUNT_PROBS[1] == insurance.ARTICLE_SHARE_ONE_LONG


@pytest.mark.parametrize("seed", SEEDS)
def test_share_with_exactly_one_long_term_policy(seed):
    """76% ± 1 percentage point of individual customers hold exactly one long-term policy."""
    counts = _long_counts(seed)
    share = float((counts == 1).mean())
    assert abs(share - insurance.ARTICLE_SHARE_ONE_LONG) <= 0.01


@pytest.mark.parametrize("seed", SEEDS)
def test_long_count_distribution(seed):
    counts = np.minimum(_long_counts(seed), max(insurance.LONG_COUNT_PROBS))
    observed = np.bincount(counts, minlength=len(insurance.LONG_COUNT_PROBS)) / len(counts)
    expected = np.array(list(insurance.LONG_COUNT_PROBS.values()))
    assert np.abs(observed - expected).max() < 0.01


def test_long_term_premium_mean_matches_weighted_product_means():
    expected = sum(w * m for _, _, w, m, _ in insurance.LONG_PRODUCTS)
    assert expected == pytest.approx(insurance.LONG_PREMIUM_MEAN)
    for seed in SEEDS:
        _, pol = _individual_policies(seed)
        mean = pol.loc[pol["long_term"], "annual_premium"].mean()
        # lognormal sigma 0.8: CV ~ 0.95, ~45,000 policies -> SE ~ 0.45%; allow 2%.
        assert mean == pytest.approx(expected, rel=0.02)


def test_premium_means_and_product_mix():
    _, pol = _individual_policies(None)
    long_pol = pol[pol["long_term"]]
    mix = long_pol["product"].value_counts(normalize=True)
    for product, _, weight, mean, sigma in insurance.LONG_PRODUCTS:
        assert mix[product] == pytest.approx(weight, abs=0.01)
        got = long_pol.loc[long_pol["product"] == product, "annual_premium"]
        assert got.mean() == pytest.approx(mean, rel=0.05)
        # lognormal: median = mean * exp(-sigma^2 / 2)
        assert got.median() == pytest.approx(mean * np.exp(-(sigma**2) / 2), rel=0.05)
    for product, _, _, mean, _ in insurance.SHORT_PRODUCTS:
        got = pol.loc[pol["product"] == product, "annual_premium"]
        assert got.mean() == pytest.approx(mean, rel=0.05)


def test_corporate_business_inflates_the_long_term_mean():
    """Forgetting to keep individual customers only gives a visibly wrong average premium."""
    policies = insurance.load_policies()
    _, pol = _individual_policies(None)
    everyone = policies.loc[policies["long_term"], "annual_premium"].mean()
    individuals = pol.loc[pol["long_term"], "annual_premium"].mean()
    assert everyone > 1.2 * individuals


def test_implied_customer_base():
    """Brief: 3,000 yuan -> 4.0 M single-policy and about 5.3 M individual customers."""
    single, individual = insurance.implied_customer_base(3_000)
    assert single == pytest.approx(insurance.ARTICLE_NEW_PREMIUM_YUAN / (0.10 * 3_000))
    assert single == pytest.approx(4.0e6)
    assert individual == pytest.approx(single / 0.76)
    assert round(individual / 1e6, 1) == 5.3


@pytest.mark.parametrize("seed", SEEDS)
def test_most_customers_known_to_one_company_only(seed):
    """Most individual customers deal with one member company only (the situation the article
    wants to change), but a sizeable minority already deal with several."""
    _, pol = _individual_policies(seed)
    n_companies = pol.groupby("customer_id")["company"].nunique()
    share = (n_companies == 1).mean()
    assert 0.65 < share < 0.85


# ---- Caravan -----------------------------------------------------------------------------------


def test_caravan_as_published():
    caravan = insurance.load_caravan()
    assert caravan.shape == (5822, 86)
    assert (caravan["Purchase"] == "Yes").sum() == 348  # CoIL 2000 training set: 348 buyers
    cols = insurance.caravan_policy_columns(caravan)
    assert len(cols) == 21 and cols[0] == "AWAPART" and cols[-1] == "ABYSTAND"
    assert set(insurance.CARAVAN_FEATURES) <= set(caravan.columns)


def test_caravan_variants():
    full = insurance.load_caravan()
    a, b = insurance.load_caravan(1), insurance.load_caravan(1)
    assert a.equals(b)
    assert len(a) == round(len(full) * insurance.CARAVAN_VARIANT_FRACTION)
    assert not a.equals(insurance.load_caravan(2))


def test_caravan_figures_quoted_in_the_brief():
    """Brief: 45.5% of holders hold one policy type; purchase rate 2.5% at one type, ~13% at 4+."""
    caravan = insurance.load_caravan()
    counts = caravan[insurance.caravan_policy_columns(caravan)].to_numpy()
    types = (counts > 0).sum(axis=1)
    buy = caravan["Purchase"].to_numpy() == "Yes"
    holders = types > 0
    assert (types[holders] == 1).mean() == pytest.approx(0.455, abs=0.0005)
    assert buy[types == 1].mean() == pytest.approx(0.025, abs=0.0005)
    assert buy[types >= 4].mean() == pytest.approx(0.13, abs=0.005)
