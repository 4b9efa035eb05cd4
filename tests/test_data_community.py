"""Case 04 data: real CDNOW tables and the simulated car club and contest (calibration, seeds).

Determinism is tested across processes for every case-04 loader, including those of
``course.data.member_card`` and ``course.data.car_roadshow`` (their calibration is in
``tests/test_data_member_card.py`` and ``tests/test_data_car_roadshow.py``): the loaders cache
their frames, so two calls in one process would compare one object with a copy of itself.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import betaln, gammaln
from scipy.stats import nbinom, poisson

from course.data import car_roadshow, community, member_card
from tests.support import ROOT

SEEDS = [None, 1, 7, 12_345]


def _seed_value(seed):
    return community.DEFAULT_SEED if seed is None else seed


# ---- real data: CDNOW --------------------------------------------------------------------


def test_cdnow_transactions_match_the_published_description():
    tx = community.load_cdnow_transactions()
    assert list(tx.columns) == ["customer_id", "date", "n_cds", "dollar_value"]
    assert len(tx) == community.CDNOW_LINES
    assert tx["customer_id"].nunique() == community.CDNOW_CUSTOMERS
    assert tx["date"].min() == pd.Timestamp("1997-01-01")
    assert tx["date"].max() == community.CDNOW_SNAPSHOT - pd.Timedelta(days=1)
    # the cohort: every customer's first purchase falls in the first quarter of 1997
    assert tx.groupby("customer_id")["date"].min().max() < pd.Timestamp("1997-04-01")
    assert (tx["dollar_value"] >= 0).all() and (tx["n_cds"] >= 1).all()


def test_cdnow_variant_is_a_customer_subset_with_all_their_lines():
    full = community.load_cdnow_transactions()
    part = community.load_cdnow_transactions(seed=7)
    n_full = full["customer_id"].nunique()
    assert part["customer_id"].nunique() == round(n_full * community.CUSTOMER_FRACTION)
    lines_full = full.groupby("customer_id").size()
    lines_part = part.groupby("customer_id").size()
    assert lines_part.equals(lines_full.loc[lines_part.index])
    other = community.load_cdnow_transactions(seed=8)
    assert not set(part["customer_id"]) == set(other["customer_id"])


def test_loaders_return_copies():
    tx = community.load_cdnow_transactions()
    tx.loc[0, "dollar_value"] = -1.0
    assert community.load_cdnow_transactions().loc[0, "dollar_value"] >= 0


def test_cdnow_summary_is_the_fhl_sample():
    summary = community.load_cdnow_summary()
    assert len(summary) == community.CDNOW_SAMPLE_CUSTOMERS
    assert list(summary.columns) == ["frequency", "recency", "T"]
    assert (summary["recency"] <= summary["T"] + 1e-9).all()
    # 39-week calibration period, customers acquired during the first 12 weeks
    assert summary["T"].max() <= 39 and summary["T"].min() >= 39 - 12 - 1
    part = community.load_cdnow_summary(seed=3)
    assert len(part) == round(community.CDNOW_SAMPLE_CUSTOMERS * community.CUSTOMER_FRACTION)
    assert set(part.index) != set(community.load_cdnow_summary(seed=4).index)


def _bgnbd_fit(summary: pd.DataFrame) -> dict[str, float]:
    x, tx, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))

    def nll(p):
        r, alpha, a, b = np.exp(p)
        base = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        t1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        t2 = np.where(
            x > 0,
            betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
        return -np.sum(base + np.logaddexp(t1, t2))

    fit = minimize(nll, np.zeros(4), method="L-BFGS-B")
    return dict(zip(["r", "alpha", "a", "b"], np.exp(fit.x), strict=True))


def test_bgnbd_on_the_summary_reproduces_fader_hardie_lee_2005():
    """Direct maximum likelihood (scipy) gives the published estimates to 3 significant digits."""
    fitted = _bgnbd_fit(community.load_cdnow_summary())
    for name, published in community.FHL2005_PARAMS.items():
        assert fitted[name] == pytest.approx(published, rel=2e-3), name


def test_lifetimes_betageofitter_agrees_quickly_and_quietly():
    import time
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    summary = community.load_cdnow_summary()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fit itself must not warn (a test cell would lose it)
        bgf = lifetimes.BetaGeoFitter(penalizer_coef=0.0)
        bgf.fit(summary["frequency"], summary["recency"], summary["T"])
    # basis: the solution notebook's budget is about 10 s in all; the fit may take a third of it
    assert time.perf_counter() - start < 3
    for name, published in community.FHL2005_PARAMS.items():
        assert bgf.params_[name] == pytest.approx(published, rel=2e-3), name


# ---- simulated: car club points ledger ------------------------------------------------------


def test_point_value_follows_the_article():
    assert community.POINT_VALUE_YUAN == pytest.approx(10 / 100)
    assert community.EARN_POINTS["blog_post"] == 100
    assert community.points_earned("service", 999.99) == 99


@pytest.mark.parametrize("seed", SEEDS)
def test_ledger_shape_and_balances(seed):
    ledger = community.load_points_ledger(seed)
    assert list(ledger.columns) == ["member_id", "date", "event", "spend_yuan", "points_used"]
    assert set(ledger["event"]) == set(community.LEDGER_EVENTS)
    assert ledger["member_id"].nunique() == community.N_MEMBERS
    assert ledger["date"].is_monotonic_increasing
    assert ledger["date"].min() >= community.LEDGER_START
    assert ledger["date"].max() < community.LEDGER_START + pd.DateOffset(months=community.LEDGER_MONTHS)
    earned = np.array([community.points_earned(e, s) for e, s in zip(ledger["event"], ledger["spend_yuan"], strict=True)])
    # replay each member's balance: it never goes negative, redemptions are whole 100-blocks
    signed = earned - ledger["points_used"].to_numpy()
    running = pd.Series(signed).groupby(ledger["member_id"].to_numpy()).cumsum()
    assert (running >= 0).all()
    redeemed = ledger.loc[ledger["event"] == "redeem", "points_used"]
    assert (redeemed > 0).all() and (redeemed % community.POINTS_PER_BLOCK == 0).all()
    # an expiry empties the balance
    assert (running[ledger["event"].to_numpy() == "expire"] == 0).all()
    # one test drive per member, at joining, before anything else of theirs
    first = ledger.groupby("member_id")["event"].first()
    assert (first == "test_drive").all()
    assert (ledger["event"] == "test_drive").sum() == community.N_MEMBERS


def _breakage(ledger: pd.DataFrame) -> float:
    used = ledger.groupby("event")["points_used"].sum()
    return float(used["expire"] / (used["redeem"] + used["expire"]))


@pytest.fixture(scope="module")
def breakage_over_seeds() -> np.ndarray:
    """Breakage of ten fresh simulations (seeds 0-9): the seed-to-seed spread of the generator."""
    return np.array([_breakage(community.simulate_points_ledger(s)) for s in range(10)])


def test_ledger_breakage_matches_its_target_on_average(breakage_over_seeds):
    """The rates were tuned so that breakage averages TARGET_BREAKAGE, a round number given to two
    decimals: the mean of ten seeds is within 3 standard errors plus half that last digit."""
    se = breakage_over_seeds.std(ddof=1) / math.sqrt(len(breakage_over_seeds))
    assert breakage_over_seeds.mean() == pytest.approx(community.TARGET_BREAKAGE, abs=3 * se + 0.005)


@pytest.mark.parametrize("seed", SEEDS)
def test_ledger_breakage_is_calibrated(seed, breakage_over_seeds):
    """Every seed a student can get is near the target: within 4 seed-to-seed sds (measured above)."""
    sd = breakage_over_seeds.std(ddof=1)
    assert _breakage(community.load_points_ledger(seed)) == pytest.approx(community.TARGET_BREAKAGE, abs=4 * sd + 0.005)


def test_ledger_seeds():
    assert community.load_points_ledger(None).equals(community.simulate_points_ledger(community.DEFAULT_SEED))
    assert not community.load_points_ledger(5).equals(community.load_points_ledger(6))


# ---- simulated: the super healthy mum contest -----------------------------------------------


def test_contest_targets_are_reachable_by_the_generator():
    """Each buyer redeems 1 + Poisson(MEAN_COUPONS_PER_BUYER - 1) coupons, which needs a mean of at
    least one coupon per buyer; the targets (redemption rate, k-factor, new-buyer share) must
    imply that, and the uncapped mean must fit in a contestant's booklet."""
    assert community.MEAN_COUPONS_PER_BUYER >= 1
    assert community.TARGET_REDEMPTION_RATE < 1


def _capped_contest_expectations() -> tuple[float, float]:
    """Expected redemption share and first-generation k-factor under the coupon cap, derived
    exactly from the generator's stated model (not from its code): a contestant's buyers are
    N ~ NegBin(shape, 1 / (1 + MEAN_BUYERS / shape)) (a gamma mixture of Poissons), so
    S_j = j + Poisson(j (m - 1)) coupons are wanted by the first j buyers; the contestant redeems
    min(S_N, cap), and buyer j gets a coupon when S_(j-1) < cap."""
    shape, cap = community.MOBILISATION_SHAPE, community.COUPONS_PER_CONTESTANT
    m = community.MEAN_COUPONS_PER_BUYER
    n = np.arange(1, 400)
    p_n = nbinom.pmf(n, shape, 1 / (1 + community.MEAN_BUYERS / shape))
    x = np.arange(cap)
    redeemed = sum(p * (cap - poisson.cdf(x - k, k * (m - 1)).sum()) for k, p in zip(n, p_n, strict=True))
    kept = sum(p * poisson.cdf(cap - 1 - np.arange(k), np.arange(k) * (m - 1)).sum() for k, p in zip(n, p_n, strict=True))
    return redeemed / cap, kept * community.NEW_BUYER_SHARE


def test_the_coupon_cap_trims_the_uncapped_targets_a_little():
    share, k = _capped_contest_expectations()
    assert share < community.TARGET_REDEMPTION_RATE and share > 0.95 * community.TARGET_REDEMPTION_RATE
    assert k < community.TARGET_K_FACTOR and k > 0.95 * community.TARGET_K_FACTOR


@pytest.mark.parametrize("seed", SEEDS)
def test_contest_tables_fit_together(seed):
    con = community.load_contestants(seed)
    red = community.load_redemptions(seed)
    ref = community.load_referrals(seed)
    posts = community.load_posts(seed)
    sales = community.load_neighbourhood_sales(seed)
    assert con["contestant_id"].is_unique and red["coupon_id"].is_unique
    assert set(red["contestant_id"]) <= set(con["contestant_id"])
    assert set(posts["kind"]) == {"blog", "video"}
    assert red["date"].between(community.CONTEST_START, community.CONTEST_END).all()
    assert red.groupby("contestant_id").size().max() <= community.COUPONS_PER_CONTESTANT
    # a buyer is either new or not, and belongs to one contestant
    assert (red.groupby("buyer_id")["new_to_brand"].nunique() == 1).all()
    assert (red.groupby("buyer_id")["contestant_id"].nunique() == 1).all()
    # every new coupon buyer is a first-generation referral of their contestant
    new_pairs = set(red.loc[red["new_to_brand"], ["contestant_id", "buyer_id"]].itertuples(index=False, name=None))
    gen1 = ref[ref["referrer_id"].isin(con["contestant_id"])]
    assert set(gen1.itertuples(index=False, name=None)) == new_pairs
    # second-generation referrers are first-generation new buyers; each new buyer appears once
    gen2 = ref[~ref["referrer_id"].isin(con["contestant_id"])]
    assert set(gen2["referrer_id"]) <= set(gen1["buyer_id"])
    assert ref["buyer_id"].is_unique
    assert not set(gen2["buyer_id"]) & set(red["buyer_id"])
    # neighbourhoods: 6 cities x 8, 5 per city in the contest; contestants only there
    assert len(sales) == len(community.CITIES) * community.NEIGHBOURHOODS_PER_CITY
    assert (sales.groupby("city")["in_contest"].sum() == community.CONTEST_NEIGHBOURHOODS_PER_CITY).all()
    assert set(con["neighbourhood"]) <= set(sales.loc[sales["in_contest"], "neighbourhood"])


@pytest.mark.parametrize("seed", SEEDS)
def test_contest_redemption_rate_and_k_factors_are_calibrated(seed):
    con = community.load_contestants(seed)
    red = community.load_redemptions(seed)
    ref = community.load_referrals(seed)
    n = len(con)
    votes = red.groupby("contestant_id").size().reindex(con["contestant_id"], fill_value=0)
    share = votes / community.COUPONS_PER_CONTESTANT
    se = share.std(ddof=1) / math.sqrt(n)
    expected_share, expected_k = _capped_contest_expectations()
    assert share.mean() == pytest.approx(expected_share, abs=4 * se)
    is_gen1 = ref["referrer_id"].isin(con["contestant_id"])
    per_contestant = ref[is_gen1].groupby("referrer_id").size().reindex(con["contestant_id"], fill_value=0)
    se_k = per_contestant.std(ddof=1) / math.sqrt(n)
    assert per_contestant.mean() == pytest.approx(expected_k, abs=4 * se_k)
    n_gen1 = int(is_gen1.sum())
    k2 = (~is_gen1).sum() / n_gen1
    se_k2 = math.sqrt(community.TARGET_K_FACTOR_GEN2 / n_gen1)  # Poisson counts per gen-1 buyer
    assert k2 == pytest.approx(community.TARGET_K_FACTOR_GEN2, abs=4 * se_k2)
    new_share = red.drop_duplicates("buyer_id")["new_to_brand"].mean()
    se_new = math.sqrt(community.NEW_BUYER_SHARE * (1 - community.NEW_BUYER_SHARE) / red["buyer_id"].nunique())
    assert new_share == pytest.approx(community.NEW_BUYER_SHARE, abs=4 * se_new)


@pytest.mark.parametrize("seed", SEEDS)
def test_difference_in_differences_recovers_the_true_lift(seed):
    sim = community.simulate_contest(_seed_value(seed))
    sales, truth = sim["neighbourhood_sales"], sim["truth"]
    assert sales.equals(community.load_neighbourhood_sales(seed))
    t = sales["in_contest"].to_numpy()
    before, during = sales["sales_before_yuan"].to_numpy(), sales["sales_during_yuan"].to_numpy()
    growth = during[~t].sum() / before[~t].sum()
    estimate = during[t].sum() - before[t].sum() * growth
    true_lift = truth["true_lift_yuan"].sum()
    assert (truth.loc[~t, "true_lift_yuan"] == 0).all() and true_lift > 0
    # sd of the estimate from the sales noise: treated noise plus the control-growth error
    g = 1 + community.COMMON_GROWTH
    noise = community.SALES_NOISE_SD * g
    sd = math.sqrt(
        np.sum((noise * before[t]) ** 2)
        + before[t].sum() ** 2 * np.sum((noise * before[~t]) ** 2) / before[~t].sum() ** 2
    )
    assert estimate == pytest.approx(true_lift, abs=4 * sd)
    # the contest is detectable: the true lift is several noise sds
    assert true_lift > 4 * sd


def test_contest_seeds():
    assert not community.load_redemptions(11).equals(community.load_redemptions(12))
    assert community.load_contestants(None).equals(community.simulate_contest(community.DEFAULT_SEED)["contestants"])


def test_the_notebook_states_the_contest_economics_it_grades():
    """The ROI question's cost table names each constant with its value; the hidden tests and the
    students compute with the numbers the table shows, so the two must agree."""
    from course import ipynb as nbio

    text = "\n".join(c.source for c in nbio.read(ROOT / "source" / "case04_community_crm" / "case04_community_crm.ipynb").cells)
    for name in ("TRIAL_BARREL_COST_YUAN", "COUPON_FACE_VALUE_YUAN", "NEIGHBOURHOOD_EVENT_COST_YUAN",
                 "CITY_FINAL_COST_YUAN", "NATIONAL_FINAL_COST_YUAN"):
        assert f"| {getattr(community, name):,.0f} yuan (`community.{name}`) |" in text, name
    assert f"{community.GROSS_MARGIN:.0%} (`community.GROSS_MARGIN`)" in text


# ---- determinism across processes: every case-04 loader ---------------------------------------

LOADERS = {
    "community": ["load_cdnow_transactions", "load_cdnow_summary", "load_points_ledger", "load_contestants",
                  "load_redemptions", "load_referrals", "load_posts", "load_neighbourhood_sales"],
    "member_card": ["load_card_purchases"],
    "car_roadshow": ["load_registrations", "load_touchpoints"],
}
DIGEST_SEEDS = [None, 11]


def _digest(frame: pd.DataFrame) -> str:
    """A fingerprint of a frame's values, index, column names and dtypes."""
    h = hashlib.sha256(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _digests() -> dict[str, str]:
    from course import data

    out = {}
    for module, loaders in LOADERS.items():
        mod = __import__(f"{data.__name__}.{module}", fromlist=[module])
        for loader in loaders:
            for seed in DIGEST_SEEDS:
                out[f"{module}.{loader}({seed})"] = _digest(getattr(mod, loader)(seed))
    return out


def test_every_loader_gives_the_same_frame_in_a_fresh_process():
    """Same seed, same data, in another interpreter (fresh caches, fresh random state)."""
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
              "from tests.test_data_community import _digests; print(json.dumps(_digests()))")
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT)], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    there = json.loads(proc.stdout.strip().splitlines()[-1])
    here = _digests()
    assert there == here
    # and the digest tells seeds apart (it is not blind to the data)
    assert _digest(member_card.load_card_purchases(1)) != _digest(member_card.load_card_purchases(2))
    assert _digest(car_roadshow.load_touchpoints(1)) != _digest(car_roadshow.load_touchpoints(2))
