"""Case 04 part B data: the membership card (calibration against the generator's stated parameters).

Expected values are derived here from the model the module documents (gamma base gaps, the goal
gradient, exponential gaps, churn probabilities), using the simulation's ground truth (who is
card-loyal, each member's base gap, each purchase's continuous time), not from the module's code.
Tolerances are 4 standard errors of the quantity tested. Determinism across processes is tested
with every case-04 loader in ``tests/test_data_community.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from course.data import member_card as mc

SEEDS = [None, 1, 7, 12_345]
HORIZON = float((mc.END - mc.START).days)


def _seed(seed):
    return mc.DEFAULT_SEED if seed is None else seed


@pytest.fixture(scope="module", params=SEEDS)
def sim(request):
    """The simulation with, per purchase, the card replayed from the till records."""
    out = mc.simulate_card(_seed(request.param))
    p = out["purchases"].merge(out["truth"], on="member_id", how="left")
    p["days"] = out["sim"]["days"].to_numpy()
    points = np.floor(p["amount_yuan"]).astype(int)
    collected = points.groupby(p["member_id"]).cumsum()
    p["balance_after"] = collected % mc.REWARD_POINTS
    p["voucher"] = collected // mc.REWARD_POINTS > (collected - points) // mc.REWARD_POINTS
    p["first"] = ~p["member_id"].duplicated()
    p["last"] = ~p["member_id"].duplicated(keep="last")
    # expected gap after each purchase (the model): base x (1 - G x balance / 300) if card-loyal
    p["mean_gap"] = p["base_gap_days"] * np.where(p["card_loyal"], 1 - mc.GOAL_GRADIENT * p["balance_after"] / mc.REWARD_POINTS, 1.0)
    p["churn_p"] = np.where(p["card_loyal"] & p["voucher"], mc.CHURN_AFTER_REWARD_CARD, mc.CHURN_PER_PURCHASE)
    return request.param, out, p


def test_till_records_are_well_formed(sim):
    seed, out, p = sim
    card = mc.load_card_purchases(seed)
    assert list(card.columns) == ["member_id", "time", "amount_yuan"]
    assert card.equals(out["purchases"])
    assert card["member_id"].nunique() == mc.N_MEMBERS
    assert card["time"].min() >= mc.START and card["time"].max() < mc.END
    # strictly increasing within each member (no tie for the replay's order), sorted by member
    assert card["member_id"].is_monotonic_increasing
    assert (card.groupby("member_id")["time"].diff().dropna() > pd.Timedelta(0)).all()
    assert (card["amount_yuan"] > 0).all()
    # the first purchase falls in the joining year
    assert (card.groupby("member_id")["time"].min() < mc.START + pd.Timedelta(days=mc.JOIN_DAYS)).all()
    # shop hours: the till clock shows 08:00-22:00 (a minute's rounding aside)
    minutes = card["time"].dt.hour * 60 + card["time"].dt.minute
    assert minutes.between(mc.OPEN_HOUR * 60, mc.CLOSE_HOUR * 60 + 1).all()


def test_the_shop_clock_keeps_the_simulated_order_and_day(sim):
    _, _, p = sim
    day = (p["time"] - mc.START).dt.days.to_numpy()
    assert (day == np.floor(p["days"].to_numpy())).all()


def test_members_and_baskets_follow_their_parameters(sim):
    _, out, p = sim
    truth = out["truth"]
    n = len(truth)
    share = truth["card_loyal"].mean()
    assert share == pytest.approx(mc.CARD_LOYAL_SHARE, abs=4 * math.sqrt(mc.CARD_LOYAL_SHARE * (1 - mc.CARD_LOYAL_SHARE) / n))
    # gamma base gaps: mean MEAN_GAP_DAYS, sd mean / sqrt(shape)
    sd = mc.MEAN_GAP_DAYS / math.sqrt(mc.GAP_SHAPE)
    assert truth["base_gap_days"].mean() == pytest.approx(mc.MEAN_GAP_DAYS, abs=4 * sd / math.sqrt(n))
    # lognormal baskets (rounded to 0.1 yuan): log-mean log(median), log-sd BASKET_LOG_SD
    logs = np.log(p["amount_yuan"].to_numpy())
    assert logs.mean() == pytest.approx(math.log(mc.BASKET_MEDIAN_YUAN), abs=4 * mc.BASKET_LOG_SD / math.sqrt(len(logs)))
    assert logs.std(ddof=1) == pytest.approx(mc.BASKET_LOG_SD, abs=4 * mc.BASKET_LOG_SD / math.sqrt(2 * len(logs)) + 0.002)


def test_gaps_follow_the_goal_gradient(sim):
    """Observed gaps against their expectation under the model: exponential with mean mu, observed
    only when the next purchase falls before the horizon, so E[gap] = mu - D e^(-D/mu) / (1 - e^(-D/mu))
    with D the time left. Tested separately for brand-loyal members and for card-loyal members
    with a nearly empty and a nearly full card (where the gradient shows)."""
    _, _, p = sim
    nxt = p.groupby("member_id")["days"].shift(-1)
    gaps = p.assign(gap=nxt - p["days"]).dropna(subset=["gap"])
    mu = gaps["mean_gap"].to_numpy()
    d = HORIZON - gaps["days"].to_numpy()
    tail = np.exp(-d / mu)
    expected = mu - d * tail / (1 - tail)
    groups = {
        "brand": ~gaps["card_loyal"].to_numpy(),
        "card, balance < 60": gaps["card_loyal"].to_numpy() & (gaps["balance_after"].to_numpy() < 60),
        "card, balance >= 240": gaps["card_loyal"].to_numpy() & (gaps["balance_after"].to_numpy() >= 240),
    }
    for name, mask in groups.items():
        observed = gaps["gap"].to_numpy()[mask]
        se = math.sqrt(np.sum(mu[mask] ** 2)) / mask.sum()  # exponential: sd = mean
        assert observed.mean() == pytest.approx(expected[mask].mean(), abs=4 * se), name
    # relative to each member's own base gap, the full card is the faster one
    ratio = gaps["gap"] / gaps["base_gap_days"]
    card = gaps["card_loyal"]
    assert ratio[card & (gaps["balance_after"] >= 240)].mean() < ratio[card & (gaps["balance_after"] < 60)].mean()


def test_churn_follows_its_parameters(sim):
    """A purchase is a member's last when the member churns after it, or when the next purchase
    would fall after the horizon: P(last) = q + (1 - q) e^(-(H - t) / mu). Observed counts of last
    purchases against that sum, for card-loyal voucher purchases and for all others."""
    _, _, p = sim
    prob = p["churn_p"] + (1 - p["churn_p"]) * np.exp(-(HORIZON - p["days"]) / p["mean_gap"])
    for name, mask in {"card-loyal vouchers": p["card_loyal"] & p["voucher"],
                       "all other purchases": ~(p["card_loyal"] & p["voucher"])}.items():
        q = prob[mask].to_numpy()
        observed = p.loc[mask, "last"].sum()
        assert observed == pytest.approx(q.sum(), abs=4 * math.sqrt(np.sum(q * (1 - q)))), name


def test_what_students_measure_shows_both_signatures(sim):
    """The notebook reads a gap ratio below 1 and a lapse ratio well above 1 (it says "well above":
    here at least 1.5) for every student; the generator's effects are large enough for that."""
    _, _, p = sim
    band = (p["balance_after"].groupby(p["member_id"]).shift().fillna(0) // 60) * 60
    gap = p.groupby("member_id")["time"].diff().dt.total_seconds() / 86_400
    by_band = gap.groupby(band).mean()
    assert by_band[240] / by_band[0] < 1
    nxt = p.groupby("member_id")["time"].shift(-1)
    judged = p["time"] < mc.LAPSE_CUTOFF
    lapsed = nxt.isna() | (nxt - p["time"] > pd.Timedelta(days=mc.LAPSE_DAYS))
    assert lapsed[judged & p["voucher"]].mean() / lapsed[judged & ~p["voucher"]].mean() > 1.5


def test_seeds_differ_and_default_is_the_default_seed():
    assert mc.load_card_purchases(None).equals(mc.simulate_card(mc.DEFAULT_SEED)["purchases"])
    assert not mc.load_card_purchases(1).equals(mc.load_card_purchases(2))


def test_loader_returns_a_copy():
    card = mc.load_card_purchases()
    card.loc[0, "amount_yuan"] = -1.0
    assert mc.load_card_purchases().loc[0, "amount_yuan"] > 0
