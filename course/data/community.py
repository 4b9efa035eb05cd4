"""Data for case 04, community marketing on a CRM back end (篇5 基于CRM建立企业社区营销体系).

Real data (CRM 1.0, membership analytics)
-----------------------------------------
- :func:`load_cdnow_transactions`: the **real** CDNOW purchase lines shipped by ``lifetimes``
  (``lifetimes/datasets/CDNOW_master.txt``, MIT licence): every purchase from January 1997 to
  June 1998 by the 23,570 customers who first bought at the online CD retailer CDNOW in the first
  quarter of 1997; 69,659 lines (customer, date, CDs, US dollars). Source: Fader & Hardie,
  brucehardie.com/datasets; used in Fader, Hardie & Lee (2005).
- :func:`load_cdnow_summary`: the **real** 1/10 sample of that cohort (2,357 customers) as
  summarised by Fader, Hardie & Lee (2005) for the BG/NBD model: repeat ``frequency``,
  ``recency`` and age ``T`` in weeks over the 39-week calibration period
  (``lifetimes/datasets/cdnow_customers_summary.csv``).

Both files are read straight from the installed package (no download, and without importing
``lifetimes``, whose import emits pandas deprecation warnings). A per-student variant
(``seed=<int>``) is a reproducible random subset of the *customers*
(:data:`CUSTOMER_FRACTION`), keeping all of their lines.

Simulated data (CRM 2.0, community marketing)
---------------------------------------------
- :func:`load_points_ledger`: a car club's points ledger (车友俱乐部积分), in the spirit of the
  article's FAW-Volkswagen example: members join at a test car parked in a residential compound,
  earn points for the test drive, for blog posts (100 points each, as in the article) and for
  service spend, redeem points at 100 points = 10 yuan, and lose them after 12 months without
  activity. Generator: :func:`simulate_points_ledger`.
- :func:`load_contestants`, :func:`load_redemptions`, :func:`load_referrals`,
  :func:`load_posts`, :func:`load_neighbourhood_sales`: the cooking-oil brand's "super healthy
  mum" contest (超级健康妈妈), neighbourhood → city → national final, where each redeemed coupon
  is one vote for the contestant who handed it out, new buyers are linked to whoever brought
  them (referral edges), blog and video posts earn points, and the brand's sales in contest and
  control neighbourhoods allow a difference-in-differences estimate of the incremental revenue.
  Generator: :func:`simulate_contest`.

Every generator constant below is an assumption of this course unless it cites the article;
the calibration targets (``TARGET_*``) are asserted by ``tests/test_data_community.py``.

>>> tx = load_cdnow_transactions()
>>> tx.shape, tx["customer_id"].nunique()
((69659, 4), 23570)
>>> load_cdnow_transactions(seed=3)["customer_id"].nunique() == round(CDNOW_CUSTOMERS * CUSTOMER_FRACTION)
True
>>> round(POINT_VALUE_YUAN, 2)
0.1
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

#: Seed of the course-wide default simulated data (the article's era: MSN bots, 2008).
DEFAULT_SEED = 2008

# ============================================================================================
# Real data: CDNOW (Fader & Hardie)
# ============================================================================================

#: Lines and customers in the full CDNOW master file (Fader & Hardie's description).
CDNOW_LINES = 69_659
CDNOW_CUSTOMERS = 23_570
#: Customers in the 1/10 sample used by Fader, Hardie & Lee (2005).
CDNOW_SAMPLE_CUSTOMERS = 2_357
#: Snapshot date for recency: the day after the last purchase date in the file (1998-06-30).
CDNOW_SNAPSHOT = pd.Timestamp("1998-07-01")
#: Share of customers kept in a per-student variant of the CDNOW tables.
CUSTOMER_FRACTION = 0.9
#: BG/NBD maximum-likelihood estimates on the 2,357-customer sample, 39-week calibration period,
#: as published in Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing
#: Science 24(2), 275-284.
FHL2005_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _lifetimes_datasets() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or spec.origin is None:  # pragma: no cover - lifetimes is a dependency
        raise ImportError("the lifetimes package (which ships the CDNOW data) is not installed")
    return Path(spec.origin).parent / "datasets"


def _customer_subset(customer_ids: np.ndarray, seed: int) -> np.ndarray:
    """Sorted ids of a reproducible random :data:`CUSTOMER_FRACTION` of the distinct customers."""
    unique = np.unique(customer_ids)
    rng = np.random.default_rng(seed)
    size = int(round(len(unique) * CUSTOMER_FRACTION))
    return np.sort(rng.choice(unique, size=size, replace=False))


@lru_cache(maxsize=None)
def _cdnow_master() -> pd.DataFrame:
    frame = pd.read_csv(
        _lifetimes_datasets() / "CDNOW_master.txt",
        sep=r"\s+",
        dtype={"customer_id": "int64", "date": "str", "number_of_cds": "int64", "dollar_value": "float64"},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame.rename(columns={"number_of_cds": "n_cds"})[["customer_id", "date", "n_cds", "dollar_value"]]


@lru_cache(maxsize=16)
def _cdnow_variant(seed: int) -> pd.DataFrame:
    full = _cdnow_master()
    keep = _customer_subset(full["customer_id"].to_numpy(), seed)
    return full[full["customer_id"].isin(keep)].reset_index(drop=True)


def load_cdnow_transactions(seed: int | None = None) -> pd.DataFrame:
    """CDNOW purchase lines: ``customer_id`` (int), ``date`` (datetime), ``n_cds`` (int),
    ``dollar_value`` (float, US dollars), sorted by customer then date as published.

    ``seed=None``: all 69,659 lines of the 23,570 customers. An integer: every line of a
    reproducible random 90% of the customers. One customer can have several lines on one day.
    """
    frame = _cdnow_master() if seed is None else _cdnow_variant(int(seed))
    return frame.copy()


@lru_cache(maxsize=None)
def _cdnow_summary() -> pd.DataFrame:
    frame = pd.read_csv(_lifetimes_datasets() / "cdnow_customers_summary.csv")
    frame = frame.rename(columns={"ID": "customer_id"}).set_index("customer_id")
    frame["frequency"] = frame["frequency"].astype("int64")
    return frame[["frequency", "recency", "T"]]


def load_cdnow_summary(seed: int | None = None) -> pd.DataFrame:
    """The Fader-Hardie-Lee 2,357-customer CDNOW sample, one row per customer (index
    ``customer_id``): ``frequency`` (repeat purchases, int), ``recency`` (weeks from the first to
    the last purchase) and ``T`` (weeks from the first purchase to the end of week 39).

    ``seed=None``: all 2,357 customers. An integer: a reproducible random 90% of them.
    """
    full = _cdnow_summary()
    if seed is None:
        return full.copy()
    keep = _customer_subset(full.index.to_numpy(), int(seed))
    return full.loc[keep].copy()


# ============================================================================================
# Simulated: the car club's points ledger (CRM 1.0 mechanics inside a CRM 2.0 campaign)
# ============================================================================================

#: Article: "100 points can be cashed as 10 yuan on a car purchase or on maintenance".
POINTS_PER_BLOCK = 100
YUAN_PER_BLOCK = 10.0
#: Value of one point in yuan (= 10 / 100).
POINT_VALUE_YUAN = YUAN_PER_BLOCK / POINTS_PER_BLOCK
#: Earn rule. Blog post: 100 points (article). Test-drive registration: 50 points (assumption).
#: Service and maintenance: 1 point per full 10 yuan spent, per visit (assumption).
EARN_POINTS = {"test_drive": 50, "blog_post": 100}
SERVICE_YUAN_PER_POINT = 10
#: Points lapse when a member has had no activity (earning or redeeming) for this many months.
EXPIRY_INACTIVE_MONTHS = 12
#: Programme window: 24 months from January 2008; members join in the first 12 months, as the
#: test car tours residential compounds.
LEDGER_START = pd.Timestamp("2008-01-01")
LEDGER_MONTHS = 24
JOIN_MONTHS = 12
#: Members recruited at the compound test drives.
N_MEMBERS = 1_500
#: Mean monthly probability that an active member writes a blog post (engagement varies by
#: member: Gamma with shape :data:`ENGAGEMENT_SHAPE`).
BLOG_RATE = 0.10
ENGAGEMENT_SHAPE = 1.0
#: Monthly probability of a service visit, and the visit's spend in yuan: lognormal with this
#: median and log-sd.
SERVICE_RATE = 1 / 6
SERVICE_MEDIAN_YUAN = 600.0
SERVICE_LOG_SD = 0.5
#: Monthly probability that an active member goes dormant for good (no further activity).
DORMANCY_RATE = 0.04
#: Monthly probability that an active member holding >= 100 points redeems all full blocks of
#: 100 (members differ: Beta with this mean and concentration).
REDEEM_RATE = 0.12
REDEEM_CONCENTRATION = 4.0
#: Calibration target: breakage = expired / (redeemed + expired) points, over the programme.
#: An assumption of this course (not an article figure).
TARGET_BREAKAGE = 0.25

LEDGER_EVENTS = ("test_drive", "blog_post", "service", "redeem", "expire")


def points_earned(event: str, spend_yuan: float = 0.0) -> int:
    """Points the earn rule gives one ledger event (0 for ``redeem`` and ``expire``).

    >>> points_earned("blog_post"), points_earned("service", 487.0), points_earned("redeem")
    (100, 48, 0)
    """
    if event == "service":
        return int(spend_yuan // SERVICE_YUAN_PER_POINT)
    return EARN_POINTS.get(event, 0)


def simulate_points_ledger(seed: int) -> pd.DataFrame:
    """Simulate the car club ledger, month by month, for :data:`N_MEMBERS` members.

    Each member joins in a random month of the first :data:`JOIN_MONTHS` (a ``test_drive`` event).
    While active, in each month a member may post a blog (probability = the member's engagement),
    visit the service centre (:data:`SERVICE_RATE`, spend lognormal), redeem all full 100-point
    blocks when holding at least 100 points (the member's redemption propensity), and may go
    dormant (:data:`DORMANCY_RATE`). A balance with no activity for
    :data:`EXPIRY_INACTIVE_MONTHS` months expires at that month's end (``expire`` event).
    """
    rng = np.random.default_rng(seed)
    n = N_MEMBERS
    join = rng.integers(0, JOIN_MONTHS, size=n)
    engagement = rng.gamma(ENGAGEMENT_SHAPE, BLOG_RATE / ENGAGEMENT_SHAPE, size=n).clip(0, 0.9)
    redeem_p = rng.beta(REDEEM_RATE * REDEEM_CONCENTRATION, (1 - REDEEM_RATE) * REDEEM_CONCENTRATION, size=n)
    active = np.zeros(n, dtype=bool)
    balance = np.zeros(n, dtype=np.int64)
    last_activity = np.full(n, -1)
    rows: list[tuple[np.ndarray, int, str, np.ndarray, np.ndarray]] = []

    def record(members: np.ndarray, month: int, event: str, spend: np.ndarray, used: np.ndarray) -> None:
        if len(members):
            rows.append((members, month, event, spend, used))

    for month in range(LEDGER_MONTHS):
        # going dormant happens before this month's activity (new joiners are exempt)
        active &= rng.random(n) >= DORMANCY_RATE
        joiners = np.flatnonzero(join == month)
        active[joiners] = True
        balance[joiners] += EARN_POINTS["test_drive"]
        last_activity[joiners] = month
        record(joiners, month, "test_drive", np.zeros(len(joiners)), np.zeros(len(joiners), dtype=np.int64))
        others = active & (join < month)
        blog = np.flatnonzero(others & (rng.random(n) < engagement))
        balance[blog] += EARN_POINTS["blog_post"]
        last_activity[blog] = month
        record(blog, month, "blog_post", np.zeros(len(blog)), np.zeros(len(blog), dtype=np.int64))
        service = np.flatnonzero(others & (rng.random(n) < SERVICE_RATE))
        spend = np.round(SERVICE_MEDIAN_YUAN * np.exp(rng.normal(0, SERVICE_LOG_SD, size=len(service))), 2)
        balance[service] += (spend // SERVICE_YUAN_PER_POINT).astype(np.int64)
        last_activity[service] = month
        record(service, month, "service", spend, np.zeros(len(service), dtype=np.int64))
        can_redeem = others & (balance >= POINTS_PER_BLOCK) & (rng.random(n) < redeem_p)
        redeem = np.flatnonzero(can_redeem)
        used = (balance[redeem] // POINTS_PER_BLOCK) * POINTS_PER_BLOCK
        balance[redeem] -= used
        last_activity[redeem] = month
        record(redeem, month, "redeem", np.zeros(len(redeem)), used)
        lapse = np.flatnonzero((balance > 0) & (month - last_activity >= EXPIRY_INACTIVE_MONTHS))
        record(lapse, month, "expire", np.zeros(len(lapse)), balance[lapse].copy())
        balance[lapse] = 0

    order = {event: i for i, event in enumerate(LEDGER_EVENTS)}
    parts = []
    for members, month, event, spend, used in rows:
        start = LEDGER_START + pd.DateOffset(months=month)
        days = pd.Timestamp(start).days_in_month
        # dates keep the simulation's order within a month: joining (first third), earning
        # (second third), redeeming (last third), expiry (last day)
        third = days // 3
        if event == "expire":
            day = np.full(len(members), days - 1)
        elif event == "test_drive":
            day = rng.integers(0, third, size=len(members))
        elif event == "redeem":
            day = rng.integers(2 * third, days - 1, size=len(members))
        else:
            day = rng.integers(third, 2 * third, size=len(members))
        parts.append(
            pd.DataFrame(
                {
                    "member_id": [f"V{m + 1:04d}" for m in members],
                    "date": start + pd.to_timedelta(day, unit="D"),
                    "event": event,
                    "spend_yuan": spend.astype(float),
                    "points_used": used.astype(np.int64),
                    "_order": order[event],
                }
            )
        )
    ledger = pd.concat(parts, ignore_index=True)
    ledger = ledger.sort_values(["date", "_order", "member_id"], kind="stable").drop(columns="_order")
    return ledger.reset_index(drop=True)


@lru_cache(maxsize=16)
def _ledger(seed: int) -> pd.DataFrame:
    return simulate_points_ledger(seed)


def load_points_ledger(seed: int | None = None) -> pd.DataFrame:
    """The car club's points ledger, one row per event, in date order.

    Columns: ``member_id`` (str), ``date`` (datetime), ``event`` (one of ``test_drive``,
    ``blog_post``, ``service``, ``redeem``, ``expire``), ``spend_yuan`` (float, service spend in
    yuan, 0 for other events), ``points_used`` (int, points taken off the balance by ``redeem`` or
    ``expire``, 0 for other events). Points *earned* are not stored: they follow from the earn
    rule (:data:`EARN_POINTS`, :data:`SERVICE_YUAN_PER_POINT`).
    """
    return _ledger(DEFAULT_SEED if seed is None else int(seed)).copy()


# ============================================================================================
# Simulated: the "super healthy mum" contest (超级健康妈妈)
# ============================================================================================

#: Cities of the contest (article: neighbourhood, then city, then national rounds).
CITIES = {"Beijing": "BJ", "Shanghai": "SH", "Guangzhou": "GZ", "Chengdu": "CD", "Wuhan": "WH", "Shenyang": "SY"}
#: Well-known residential neighbourhoods (小区) tracked per city, of which this many host a
#: contest round; the rest are controls for the difference-in-differences.
NEIGHBOURHOODS_PER_CITY = 8
CONTEST_NEIGHBOURHOODS_PER_CITY = 5
#: Contestants per contest neighbourhood: 6 + Poisson(6).
MIN_CONTESTANTS = 6
EXTRA_CONTESTANTS_MEAN = 6.0
#: Campaign window (8 weeks to the national final on Mother's Day, 11 May 2008) and the
#: 8 weeks before it used as the baseline.
CONTEST_START = pd.Timestamp("2008-03-17")
CONTEST_END = pd.Timestamp("2008-05-11")
BASELINE_START = pd.Timestamp("2008-01-21")
#: Paper coupons handed to each contestant (with a free trial barrel, 体验桶).
COUPONS_PER_CONTESTANT = 30
#: Calibration target: share of issued coupons redeemed (one redeemed coupon = one vote).
TARGET_REDEMPTION_RATE = 0.35
#: Share of coupon buyers who are new to the brand (no earlier purchase in the brand's CRM).
NEW_BUYER_SHARE = 0.35
#: Calibration target: first-generation k-factor, new buyers brought per contestant.
TARGET_K_FACTOR = 1.6
#: Second generation: new buyers each first-generation new buyer invites through the online
#: community (shared link, no coupon, so no vote), Poisson mean.
TARGET_K_FACTOR_GEN2 = 0.3
#: Dispersion of mobilisation across contestants: distinct buyers ~ Poisson(Gamma(shape, .)).
MOBILISATION_SHAPE = 3.0
#: Distinct buyers per contestant and coupons per buyer follow from the targets:
#: buyers = k / new-buyer share; coupons per buyer = redemption rate * coupons / buyers.
MEAN_BUYERS = TARGET_K_FACTOR / NEW_BUYER_SHARE
MEAN_COUPONS_PER_BUYER = TARGET_REDEMPTION_RATE * COUPONS_PER_CONTESTANT / MEAN_BUYERS
#: Retail prices (yuan) of the brand's 5-litre bottles, bought with a coupon (1 or 2 bottles).
BOTTLE_PRICES = (59.9, 69.9, 89.9)
TWO_BOTTLE_SHARE = 0.3
#: Extra bottles a new buyer (either generation) buys during the 8 weeks, Poisson mean.
NEW_BUYER_REPEAT_BOTTLES = 0.8
#: Share of existing buyers' coupon revenue that is incremental (the rest they would have
#: bought anyway).
EXISTING_INCREMENTAL_SHARE = 0.2
#: Posts per contestant (Poisson means) and the contest points they earn.
BLOG_POSTS_MEAN = 1.5
VIDEO_POSTS_MEAN = 0.8
CONTEST_POINTS = {"vote": 1, "blog": 5, "video": 10}
#: Judges' cooking score: Normal(mean, sd) clipped to 0-100.
COOKING_SCORE_MEAN = 70.0
COOKING_SCORE_SD = 10.0
#: Brand sales per neighbourhood over 8 weeks before the contest: lognormal (median, log-sd);
#: common growth into the contest window (all neighbourhoods) and idiosyncratic noise.
BASE_SALES_MEDIAN_YUAN = 60_000.0
BASE_SALES_LOG_SD = 0.3
COMMON_GROWTH = 0.05
SALES_NOISE_SD = 0.02
#: Campaign economics (assumptions stated in the exercise).
GROSS_MARGIN = 0.30
TRIAL_BARREL_COST_YUAN = 40.0
COUPON_FACE_VALUE_YUAN = 10.0
NEIGHBOURHOOD_EVENT_COST_YUAN = 1_000.0
CITY_FINAL_COST_YUAN = 6_000.0
NATIONAL_FINAL_COST_YUAN = 30_000.0


def _days(rng: np.random.Generator, start: pd.Timestamp, end: pd.Timestamp, size: int) -> pd.DatetimeIndex:
    span = (end - start).days + 1
    return pd.DatetimeIndex(start + pd.to_timedelta(rng.integers(0, span, size=size), unit="D"))


def _within_group_cumsum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each new value of the sorted ``group``."""
    total = np.cumsum(values)
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    offset = np.repeat(np.r_[0, total[starts[1:] - 1]], np.diff(np.r_[starts, len(values)]))
    return total - offset


def simulate_contest(seed: int) -> dict[str, pd.DataFrame]:
    """Simulate the contest: a dict of ``contestants``, ``redemptions``, ``referrals``, ``posts``,
    ``neighbourhood_sales`` and ``truth`` (per-neighbourhood true incremental revenue, for tests).

    Mobilisation: contestant ``i`` brings ``n_i ~ Poisson(lambda_i)`` distinct buyers, with
    ``lambda_i ~ Gamma(MOBILISATION_SHAPE, MEAN_BUYERS / MOBILISATION_SHAPE)``; each buyer redeems
    ``1 + Poisson(MEAN_COUPONS_PER_BUYER - 1)`` coupons, and a contestant's coupons run out at
    :data:`COUPONS_PER_CONTESTANT` (later buyers get fewer or none); each buyer is new to the
    brand with probability :data:`NEW_BUYER_SHARE`. Each first-generation new buyer invites
    ``Poisson(TARGET_K_FACTOR_GEN2)`` second-generation new buyers. Buyer ids are shuffled, so
    they carry no information about generation or contestant.

    Sales: ``during = before * (1 + COMMON_GROWTH) * (1 + noise) + true lift`` where the true
    lift of a contest neighbourhood is the new buyers' coupon and repeat purchases plus
    :data:`EXISTING_INCREMENTAL_SHARE` of existing buyers' coupon purchases (0 for controls).
    """
    rng = np.random.default_rng(seed)
    # ---- neighbourhoods: per city, a random CONTEST_NEIGHBOURHOODS_PER_CITY host the contest
    hood_city = np.repeat(list(CITIES), NEIGHBOURHOODS_PER_CITY)
    hood_id = np.array(
        [f"{code}-{j + 1:02d}" for code in CITIES.values() for j in range(NEIGHBOURHOODS_PER_CITY)]
    )
    in_contest = np.concatenate(
        [rng.permutation(NEIGHBOURHOODS_PER_CITY) < CONTEST_NEIGHBOURHOODS_PER_CITY for _ in CITIES]
    )
    n_hoods = len(hood_id)

    # ---- contestants
    per_hood = np.where(in_contest, MIN_CONTESTANTS + rng.poisson(EXTRA_CONTESTANTS_MEAN, size=n_hoods), 0)
    c_hood = np.repeat(np.arange(n_hoods), per_hood)
    n_con = len(c_hood)
    c_id = np.array([f"M{i + 1:04d}" for i in range(n_con)])
    cooking = np.clip(np.round(rng.normal(COOKING_SCORE_MEAN, COOKING_SCORE_SD, size=n_con), 1), 0, 100)
    lam = rng.gamma(MOBILISATION_SHAPE, MEAN_BUYERS / MOBILISATION_SHAPE, size=n_con)

    # ---- first-generation buyers and their coupons (capped per contestant)
    b_con = np.repeat(np.arange(n_con), rng.poisson(lam))
    wanted = 1 + rng.poisson(MEAN_COUPONS_PER_BUYER - 1, size=len(b_con))
    used_before = _within_group_cumsum(wanted, b_con) - wanted
    coupons = np.clip(COUPONS_PER_CONTESTANT - used_before, 0, wanted)
    keep = coupons > 0
    b_con, coupons = b_con[keep], coupons[keep]
    b_new = rng.random(len(b_con)) < NEW_BUYER_SHARE
    # ---- second generation: invited by first-generation new buyers
    gen1 = np.flatnonzero(b_new)
    g2_parent = np.repeat(gen1, rng.poisson(TARGET_K_FACTOR_GEN2, size=len(gen1)))
    n_b1, n_b2 = len(b_con), len(g2_parent)
    buyer_names = np.array([f"B{i + 1:05d}" for i in rng.permutation(n_b1 + n_b2)])
    b_id, g2_id = buyer_names[:n_b1], buyer_names[n_b1:]

    # ---- coupon redemptions
    r_buyer = np.repeat(np.arange(n_b1), coupons)
    n_red = len(r_buyer)
    bottles = 1 + (rng.random(n_red) < TWO_BOTTLE_SHARE)
    price = np.asarray(BOTTLE_PRICES)[rng.integers(len(BOTTLE_PRICES), size=n_red)]
    amount = np.round(bottles * price, 2)
    r_date = _days(rng, CONTEST_START, CONTEST_END, n_red)
    r_new = b_new[r_buyer]
    redemptions = pd.DataFrame(
        {
            "coupon_id": [f"Q{i + 1:06d}" for i in range(n_red)],
            "contestant_id": c_id[b_con[r_buyer]],
            "buyer_id": b_id[r_buyer],
            "date": r_date,
            "purchase_yuan": amount,
            "new_to_brand": r_new,
        }
    )
    redemptions = redemptions.sort_values(["date", "coupon_id"], kind="stable").reset_index(drop=True)

    # ---- referral edges: contestant -> first-generation new buyer, buyer -> second generation
    referrals = pd.DataFrame(
        {
            "referrer_id": np.concatenate([c_id[b_con[gen1]], b_id[g2_parent]]),
            "buyer_id": np.concatenate([b_id[gen1], g2_id]),
        }
    )
    referrals = referrals.sample(frac=1.0, random_state=rng.integers(2**32)).reset_index(drop=True)

    # ---- posts
    n_blog = rng.poisson(BLOG_POSTS_MEAN, size=n_con)
    n_video = rng.poisson(VIDEO_POSTS_MEAN, size=n_con)
    posts = pd.DataFrame(
        {
            "contestant_id": np.concatenate([np.repeat(c_id, n_blog), np.repeat(c_id, n_video)]),
            "date": _days(rng, CONTEST_START, CONTEST_END, int(n_blog.sum() + n_video.sum())),
            "kind": ["blog"] * int(n_blog.sum()) + ["video"] * int(n_video.sum()),
        }
    )
    posts = posts.sort_values(["date", "contestant_id"], kind="stable").reset_index(drop=True)

    # ---- true incremental revenue per neighbourhood
    r_hood = c_hood[b_con[r_buyer]]
    lift = np.bincount(r_hood, weights=np.where(r_new, amount, EXISTING_INCREMENTAL_SHARE * amount), minlength=n_hoods)
    repeat = rng.poisson(NEW_BUYER_REPEAT_BOTTLES, size=len(gen1)) * BOTTLE_PRICES[1]
    lift += np.bincount(c_hood[b_con[gen1]], weights=repeat, minlength=n_hoods)
    first = (1 + rng.poisson(NEW_BUYER_REPEAT_BOTTLES, size=n_b2)) * BOTTLE_PRICES[1]
    lift += np.bincount(c_hood[b_con[g2_parent]], weights=first, minlength=n_hoods)

    # ---- the brand's sales per neighbourhood, before and during the contest
    before = np.round(BASE_SALES_MEDIAN_YUAN * np.exp(rng.normal(0, BASE_SALES_LOG_SD, size=n_hoods)), 2)
    noise = rng.normal(0, SALES_NOISE_SD, size=n_hoods)
    during = np.round(before * (1 + COMMON_GROWTH) * (1 + noise) + lift, 2)
    hoods = pd.DataFrame({"neighbourhood": hood_id, "city": hood_city, "in_contest": in_contest})
    contestants = pd.DataFrame(
        {"contestant_id": c_id, "city": hood_city[c_hood], "neighbourhood": hood_id[c_hood], "cooking_score": cooking}
    )
    return {
        "contestants": contestants,
        "redemptions": redemptions,
        "referrals": referrals,
        "posts": posts,
        "neighbourhood_sales": hoods.assign(sales_before_yuan=before, sales_during_yuan=during),
        "truth": hoods.assign(true_lift_yuan=lift),
    }


@lru_cache(maxsize=16)
def _contest(seed: int) -> dict[str, pd.DataFrame]:
    return simulate_contest(seed)


def _contest_table(name: str, seed: int | None) -> pd.DataFrame:
    return _contest(DEFAULT_SEED if seed is None else int(seed))[name].copy()


def load_contestants(seed: int | None = None) -> pd.DataFrame:
    """One row per contestant: ``contestant_id`` (str, ``M…``), ``city``, ``neighbourhood``,
    ``cooking_score`` (judges' score in the neighbourhood round, 0-100)."""
    return _contest_table("contestants", seed)


def load_redemptions(seed: int | None = None) -> pd.DataFrame:
    """One row per redeemed coupon (= one vote): ``coupon_id``, ``contestant_id`` (whose coupon),
    ``buyer_id`` (``B…``), ``date``, ``purchase_yuan`` (retail value of the purchase, before the
    coupon's discount), ``new_to_brand`` (bool: no purchase in the CRM before the contest)."""
    return _contest_table("redemptions", seed)


def load_referrals(seed: int | None = None) -> pd.DataFrame:
    """Referral edges, one row per new buyer: ``referrer_id`` (a contestant ``M…`` or a buyer
    ``B…``) brought ``buyer_id`` (a new-to-brand buyer, ``B…``)."""
    return _contest_table("referrals", seed)


def load_posts(seed: int | None = None) -> pd.DataFrame:
    """Contestants' posts during the contest: ``contestant_id``, ``date``, ``kind`` (``blog`` or
    ``video``)."""
    return _contest_table("posts", seed)


def load_neighbourhood_sales(seed: int | None = None) -> pd.DataFrame:
    """The brand's sales per tracked neighbourhood: ``neighbourhood``, ``city``, ``in_contest``
    (bool), ``sales_before_yuan`` (8 weeks before the contest) and ``sales_during_yuan`` (the 8
    contest weeks), in yuan."""
    return _contest_table("neighbourhood_sales", seed)
