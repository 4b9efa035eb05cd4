"""Calibration and seed behaviour of the case 05 data (course/data/insurance.py).

Every tolerance below says where it comes from: an article figure (read from the article's own
words in course/articles/case05_insurance_crm.toml, which tests/test_quotations.py checks against
the article), a documented generator parameter, or a sampling error derived here. "4 sd" means
four standard errors of the statistic at this sample size: a miss is a generator bug, not bad luck
(about 6 in 100,000 per check).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from course import articles
from course.data import insurance
from tests.support import ROOT

SEEDS = [None, 1, 2, 17, 123_456]
#: Seeds for the checks that guard the notebook's visible checks (cheap: no records).
MANY_SEEDS = [None, *range(1, 21), 123_456]
Z = 4.0  # standard errors allowed in calibration checks (see the module docstring)


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


def _n_individual(n_customers: int) -> float:
    """Expected number of individual customers among n_customers (documented parameters)."""
    return n_customers * (1 - insurance.SHARE_CORPORATE)


def _share_sd(p: float, n: float) -> float:
    return math.sqrt(p * (1 - p) / n)


# ---- the article's figures, from the article's words ------------------------------------------


def _article_text() -> str:
    return " ".join(e.text for e in articles.load("case05_insurance_crm").excerpts)


def test_article_figures_are_the_articles_words():
    """76%, 10% and 12亿元 are read from the quoted sentences, not restated."""
    text = _article_text()
    share = re.search(r"只购买1份长险保单的客户占(\d+)%", text)
    uptake = re.search(r"仅挖掘其中的(\d+)%再购买1份保单", text)
    premium = re.search(r"增加(\d+)亿元新单保费", text)
    assert share and uptake and premium, "the article's sentences are missing from the excerpts"
    assert insurance.ARTICLE_SHARE_ONE_LONG == int(share.group(1)) / 100
    assert insurance.ARTICLE_UPTAKE == int(uptake.group(1)) / 100
    assert insurance.ARTICLE_NEW_PREMIUM_YUAN == int(premium.group(1)) * 10**8  # 亿 = 10^8


def test_implied_customer_base():
    """1.2e9 yuan / (10% x 3,000 yuan) = 4.0 million single-policy customers; / 0.76 = 5.26 million."""
    single, individual = insurance.implied_customer_base(3_000)
    assert single == pytest.approx(1.2e9 / 300)
    assert individual == pytest.approx(1.2e9 / 300 / 0.76)


# ---- shapes and keys ---------------------------------------------------------------------------


def test_columns_and_types():
    customers = insurance.load_customers()
    policies = insurance.load_policies()
    assert list(customers.columns) == ["customer_id", "customer_type", "region", "since_year"]
    assert list(policies.columns) == [
        "policy_id", "customer_id", "company", "product", "long_term", "annual_premium"
    ]
    assert len(customers) == insurance.N_CUSTOMERS
    sizes = {len(insurance.load_customers(seed)) for seed in SEEDS[1:]}
    assert len(sizes) == len(SEEDS) - 1
    assert all(abs(n - insurance.N_CUSTOMERS) <= insurance.N_CUSTOMERS_SPREAD for n in sizes)
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
    """Each product has the company and term of its table row (group annuity: long-term)."""
    policies = insurance.load_policies()
    per_product = policies.groupby("product")[["company", "long_term"]].nunique()
    assert (per_product == 1).all().all()
    rows = ([(p, c, True) for p, c, *_ in insurance.LONG_PRODUCTS]
            + [(p, c, False) for p, c, *_ in insurance.SHORT_PRODUCTS]
            + [(p, c, lt) for p, c, _, _, _, lt in insurance.GROUP_PRODUCTS])
    got = policies.groupby("product")[["company", "long_term"]].first()
    assert {p: (c, lt) for p, c, lt in rows} == {p: (r.company, bool(r.long_term)) for p, r in got.iterrows()}
    assert got.loc["group_annuity", "long_term"] and not got.loc["group_life", "long_term"]


def test_corporate_share():
    for seed in SEEDS:
        customers = insurance.load_customers(seed)
        share = (customers["customer_type"] == "corporate").mean()
        sd = _share_sd(insurance.SHARE_CORPORATE, len(customers))
        assert abs(share - insurance.SHARE_CORPORATE) < Z * sd


# ---- seeds -------------------------------------------------------------------------------------


def _digest(*frames: pd.DataFrame) -> str:
    import hashlib

    h = hashlib.sha256()
    for frame in frames:
        h.update(json.dumps([list(map(str, frame.columns)), list(map(str, frame.dtypes))]).encode())
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


_DIGEST_SCRIPT = """
import json, sys
from course.data import insurance
from tests.test_data_insurance import _digest
seeds = json.loads(sys.argv[1])
print(json.dumps({str(s): [_digest(insurance.load_customers(s), insurance.load_policies(s)),
                          _digest(insurance.load_caravan(s))] for s in seeds}))
"""


def _digests_in_new_process(seeds) -> dict[str, str]:
    proc = subprocess.run([sys.executable, "-c", _DIGEST_SCRIPT, json.dumps(seeds)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_same_seed_same_data_across_processes():
    """Determinism is tested across fresh processes (an lru_cache cannot make it pass); the
    default group data are the data of DEFAULT_SEED (the default Caravan data are all its rows)."""
    seeds = [None, insurance.DEFAULT_SEED, 5]
    first, second = _digests_in_new_process(seeds), _digests_in_new_process(seeds)
    assert first == second
    assert first["None"][0] == first[str(insurance.DEFAULT_SEED)][0]
    assert first["None"][1] == _digest(insurance.load_caravan()) != first[str(insurance.DEFAULT_SEED)][1]
    here = [_digest(insurance.load_customers(5), insurance.load_policies(5)), _digest(insurance.load_caravan(5))]
    assert first["5"] == here


def test_seeds_differ():
    a, b = insurance.load_policies(1), insurance.load_policies(2)
    assert len(a) != len(b) or not a["annual_premium"].equals(b["annual_premium"])
    assert not insurance.load_customers(1)["region"].equals(insurance.load_customers(2)["region"])


def test_loaders_return_copies():
    policies = insurance.load_policies()
    policies.loc[:, "annual_premium"] = 0.0
    assert (insurance.load_policies()["annual_premium"] > 0).all()


# ---- calibration to the article and to the documented parameters ------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_share_with_exactly_one_long_term_policy(seed):
    """The article's 76% (target 76% ± 1 percentage point), within 4 sd of sampling error."""
    counts = _long_counts(seed)
    share = float((counts == 1).mean())
    target = insurance.ARTICLE_SHARE_ONE_LONG
    assert abs(share - target) <= Z * _share_sd(target, len(counts))
    assert abs(share - target) <= 0.01


@pytest.mark.parametrize("seed", SEEDS)
def test_long_count_distribution(seed):
    """Each P(L = l) of LONG_COUNT_PROBS within 4 sd."""
    counts = np.minimum(_long_counts(seed), max(insurance.LONG_COUNT_PROBS))
    observed = np.bincount(counts, minlength=len(insurance.LONG_COUNT_PROBS)) / len(counts)
    for level, p in insurance.LONG_COUNT_PROBS.items():
        assert abs(observed[level] - p) <= Z * _share_sd(p, len(counts)), level


def _lognormal_cv(sigma: float) -> float:
    return math.sqrt(math.exp(sigma**2) - 1)


def test_long_term_premium_mean_matches_weighted_product_means():
    """The mean long-term premium is LONG_PREMIUM_MEAN (the product weights' mean), within 4 sd."""
    expected = sum(w * m for _, _, w, m, _ in insurance.LONG_PRODUCTS)
    assert expected == pytest.approx(insurance.LONG_PREMIUM_MEAN)
    # sd of one premium: the mixture's second moment minus the squared mean
    second = sum(w * m**2 * (1 + _lognormal_cv(s) ** 2) for _, _, w, m, s in insurance.LONG_PRODUCTS)
    sd_one = math.sqrt(second - expected**2)
    for seed in SEEDS:
        _, pol = _individual_policies(seed)
        premiums = pol.loc[pol["long_term"], "annual_premium"]
        assert abs(premiums.mean() - expected) <= Z * sd_one / math.sqrt(len(premiums))


def test_premium_means_medians_and_product_mix():
    """Per product: share of long-term policies (4 sd), mean (4 sd: cv / sqrt(n)) and the
    lognormal median mean * exp(-sigma^2 / 2) (4 sd: sd of a log-median is 1.2533 sigma / sqrt(n))."""
    _, pol = _individual_policies(None)
    long_pol = pol[pol["long_term"]]
    mix = long_pol["product"].value_counts(normalize=True)
    for product, _, weight, _, _ in insurance.LONG_PRODUCTS:
        assert abs(mix[product] - weight) <= Z * _share_sd(weight, len(long_pol)), product
    for product, _, _, mean, sigma in insurance.LONG_PRODUCTS + insurance.SHORT_PRODUCTS:
        got = pol.loc[pol["product"] == product, "annual_premium"]
        n = len(got)
        assert abs(got.mean() / mean - 1) <= Z * _lognormal_cv(sigma) / math.sqrt(n), product
        median = mean * math.exp(-(sigma**2) / 2)
        assert abs(math.log(got.median() / median)) <= Z * 1.2533 * sigma / math.sqrt(n), product


def _group_annuity():
    return next(row for row in insurance.GROUP_PRODUCTS if row[0] == "group_annuity")


def test_corporate_annuities_inflate_the_all_customer_long_term_mean():
    """Question 2a's mistake (averaging all long-term policies, corporate group annuities
    included): the measured mean matches the mean derived from the documented parameters
    (expected counts of individual long-term policies and group annuities), within 4 sd of the
    group-annuity total (a compound Poisson sum: variance = count x mean^2 x (1 + cv^2))."""
    _, _, w_annuity, m_annuity, s_annuity, _ = _group_annuity()
    for seed in SEEDS:
        n_customers = len(insurance.load_customers(seed))
        n_long = _n_individual(n_customers) * sum(level * p for level, p in insurance.LONG_COUNT_PROBS.items())
        n_annuity = n_customers * insurance.SHARE_CORPORATE * (1 + insurance.GROUP_EXTRA_RATE) * w_annuity
        expected = (n_long * insurance.LONG_PREMIUM_MEAN + n_annuity * m_annuity) / (n_long + n_annuity)
        sd_annuity_total = m_annuity * math.sqrt(n_annuity * (1 + _lognormal_cv(s_annuity) ** 2))
        policies = insurance.load_policies(seed)
        everyone = policies.loc[policies["long_term"], "annual_premium"].mean()
        assert abs(everyone - expected) <= Z * sd_annuity_total / (n_long + n_annuity)


def _share_one_company_expected() -> float:
    """P(all of an individual customer's policies are with one member company), derived from the
    generator's documented rules: the first long-term policy's company c has probability w_c (the
    long product weights by company); each further long-term policy stays at c with probability
    SAME_COMPANY_PROB + (1 - SAME_COMPANY_PROB) w_c; the short-term policies, Poisson(lambda) of them
    (1 + Poisson for short-term-only customers), are each at c with probability q_c, so all of them
    are with probability E[q_c^S] = exp(-lambda (1 - q_c))."""
    companies = list(insurance.COMPANIES)
    w = {c: sum(r[2] for r in insurance.LONG_PRODUCTS if r[1] == c) for c in companies}
    q = {c: sum(r[2] for r in insurance.SHORT_PRODUCTS if r[1] == c) for c in companies}
    stay = insurance.SAME_COMPANY_PROB
    total = 0.0
    for level, p in insurance.LONG_COUNT_PROBS.items():
        if level == 0:
            lam = insurance.SHORT_EXTRA_RATE_SHORT_ONLY
            one = sum(q[c] * math.exp(-lam * (1 - q[c])) for c in companies)
        else:
            lam = insurance.SHORT_RATE_WITH_LONG
            one = sum(w[c] * (stay + (1 - stay) * w[c]) ** (level - 1) * math.exp(-lam * (1 - q[c]))
                      for c in companies)
        total += p * one
    return total


@pytest.mark.parametrize("seed", SEEDS)
def test_share_known_to_one_company_matches_its_derivation(seed):
    """Most individual customers deal with one member company only (about 77%, the situation the
    article wants to change): the measured share is the derived one within 4 sd."""
    _, pol = _individual_policies(seed)
    n_companies = pol.groupby("customer_id")["company"].nunique()
    expected = _share_one_company_expected()
    assert abs((n_companies == 1).mean() - expected) <= Z * _share_sd(expected, len(n_companies))


# ---- the mistakes the notebook's visible checks catch ----------------------------------------


@pytest.mark.parametrize("seed", MANY_SEEDS)
def test_visible_mistake_checks_never_flag_the_right_answer(seed):
    """check_not_mistake flags a value within 1e-9 (relative 1e-9 for the premium) of a
    mistake's result. For every seed the right answers of Questions 1, 2a and 3a are farther
    from those results than 1e-6, so a right answer is never flagged."""
    customers = insurance.load_customers(seed)
    policies = insurance.load_policies(seed)
    individual, pol = _individual_policies(seed)
    long_ind = pol[pol["long_term"]].groupby("customer_id").size()
    right_q1 = (long_ind.reindex(individual, fill_value=0) == 1).mean()
    long_all = policies[policies["long_term"]].groupby("customer_id").size()
    all_customers_q1 = (long_all.reindex(customers["customer_id"], fill_value=0) == 1).mean()
    without_zeros_q1 = (long_ind == 1).mean()
    assert min(abs(right_q1 - all_customers_q1), abs(right_q1 - without_zeros_q1)) > 1e-6
    right_q2 = pol.loc[pol["long_term"], "annual_premium"].mean()
    all_q2 = policies.loc[policies["long_term"], "annual_premium"].mean()
    assert abs(all_q2 / right_q2 - 1) > 1e-6
    right_q3 = (pol.groupby("customer_id")["company"].nunique() == 1).mean()
    all_q3 = (policies.groupby("customer_id")["company"].nunique() == 1).mean()
    assert abs(right_q3 - all_q3) > 1e-6


# ---- Caravan -----------------------------------------------------------------------------------


def test_caravan_as_published():
    """The CoIL 2000 training set: 5,822 customers, 86 columns, 348 caravan policy holders (the
    figures of the challenge's own description), 21 policy-count columns AWAPART ... ABYSTAND."""
    caravan = insurance.load_caravan()
    assert caravan.shape == (5822, 86)
    assert (caravan["Purchase"] == "Yes").sum() == 348
    cols = insurance.caravan_policy_columns(caravan)
    assert len(cols) == 21 and cols[0] == "AWAPART" and cols[-1] == "ABYSTAND"
    assert set(insurance.CARAVAN_FEATURES) <= set(caravan.columns)


def test_caravan_variants():
    """A variant is CARAVAN_VARIANT_FRACTION of the published rows (determinism is tested across
    processes above), and different seeds give different rows."""
    full = insurance.load_caravan()
    a = insurance.load_caravan(1)
    assert len(a) == round(len(full) * insurance.CARAVAN_VARIANT_FRACTION)
    assert not a.equals(insurance.load_caravan(2))


def _notebook_markdown() -> str:
    path = ROOT / "source" / "case05_insurance_crm" / "case05_insurance_crm.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_caravan_figures_the_notebook_quotes():
    """The notebook's text quotes Caravan figures for the default data ("nearly half" hold one
    policy type; "about 2.5% at one type and about 13% at four or more"): they are the data's, at
    the precision the text gives them."""
    text = " ".join(_notebook_markdown().split())
    match = re.search(r"about ([\d.]+)% at one type and about ([\d.]+)% at four or more", text)
    assert match and "Nearly half of the policy holders hold a single type" in text
    caravan = insurance.load_caravan()
    counts = caravan[insurance.caravan_policy_columns(caravan)].to_numpy()
    types = (counts > 0).sum(axis=1)
    buy = caravan["Purchase"].to_numpy() == "Yes"
    assert 0.40 <= (types[types > 0] == 1).mean() < 0.50
    for quoted, rate in zip(match.groups(), (buy[types == 1].mean(), buy[types >= 4].mean()), strict=True):
        decimals = len(quoted.split(".")[1]) if "." in quoted else 0
        assert round(100 * rate, decimals) == float(quoted)


def test_group_figures_the_notebook_quotes():
    """The default-data figures of Part A and of the lifetime-value text and model answer, at the
    precision the text gives them (CLV from the documented CLV_* assumptions)."""
    text = " ".join(_notebook_markdown().split())
    individual, pol = _individual_policies(None)
    n_long = pol[pol["long_term"]].groupby("customer_id").size().reindex(individual, fill_value=0)
    one_company = (pol.groupby("customer_id")["company"].nunique() == 1).mean()
    share = (n_long == 1).mean()
    assert f"{share:.0%} of individual customers hold a single long-term policy and {one_company:.0%} deal with one member company only" in text
    assert f"In our sample of about {round(len(individual), -2):,} individual customers" in text
    single = int((n_long == 1).sum())
    avg = pol.loc[pol["long_term"], "annual_premium"].mean()
    assert f"If 10% of the {round(single, -2):,} single-policy customers" in text
    assert f"would rise by about {0.10 * single * avg / 1e6:.1f} million yuan a year" in text
    d, margin, ret = insurance.CLV_DISCOUNT_RATE, insurance.CLV_MARGIN_RATE, insurance.CLV_RETENTION
    premium = pol.groupby("customer_id")["annual_premium"].sum().reindex(individual)
    factor = {k: (1 + d) / (1 + d - r) for k, r in ret.items()}
    clv = margin * premium * n_long.clip(upper=2).map(factor)
    m1 = margin * premium[n_long == 1]
    gain = ((m1 + margin * avg) * factor[2] - m1 * factor[1]).mean()
    kept = (m1 * (factor[2] - factor[1])).mean() / gain
    assert f"worth about {round(clv.mean(), -2):,.0f} yuan of lifetime margin on average" in text
    assert f"adds about {round(gain, -2):,.0f} yuan per customer who buys one" in text and f"({kept:.0%})" in text
    assert f"each second policy is worth about {round(gain, -2):,.0f} yuan of margin" in text
    chart = re.search(r"marked: ([\d.]+) years of margin at 60% \(no long-term policy\), ([\d.]+) at 85% \(one\) "
                      r"and ([\d.]+) at 92%", text)
    assert chart and [100 * r for r in ret.values()] == [60, 85, 92]
    for r, quoted in zip(ret.values(), chart.groups(), strict=True):
        assert f"{(1 + d) / (1 + d - r):.2f}" == quoted
