"""Case 04 part C data: the car roadshow (structure, and calibration against the stated parameters).

Each step of the follow-up chain is compared with its documented probability (4 binomial
standard errors), using the simulation's ground truth; the purchase rates that students measure
are compared with rates derived here by enumerating every path of the chain (not with the
module's own ``expected_purchase_rate``, which is checked against the enumeration too).
Determinism across processes is tested with every case-04 loader in
``tests/test_data_community.py``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from course.data import car_roadshow as cr

SEEDS = [None, 1, 7, 12_345]
FOLLOW_UP_CHANNELS = ["sms_coupon_open", "msn_bot_chat", "club_blog", "dealer_coupon"]


def _seed(seed):
    return cr.DEFAULT_SEED if seed is None else seed


@pytest.fixture(scope="module", params=SEEDS)
def sim(request):
    out = cr.simulate_roadshow(_seed(request.param))
    reg = out["registrations"].merge(out["truth"], on="temp_id")
    return request.param, out, reg


def _close_to(p_hat: float, p: float, n: int) -> bool:
    return abs(p_hat - p) <= 4 * math.sqrt(p * (1 - p) / n)


def _owners(reg: pd.DataFrame) -> dict[str, str]:
    owner = dict(zip(reg["phone"], reg["temp_id"], strict=True))
    owner.update(zip(reg["temp_id"], reg["temp_id"], strict=True))
    owner.update((m, t) for m, t in zip(reg["msn"], reg["temp_id"], strict=True) if isinstance(m, str))
    return owner


def test_registrations_are_well_formed(sim):
    seed, out, reg = sim
    assert cr.load_registrations(seed).equals(out["registrations"])
    assert list(out["registrations"].columns) == ["temp_id", "compound", "roadshow_date", "follow_up", "phone", "msn"]
    assert reg["temp_id"].is_unique and reg["phone"].is_unique
    assert reg["msn"].dropna().is_unique
    per_compound = reg.groupby("compound").agg(days=("roadshow_date", "nunique"), arms=("follow_up", "nunique"),
                                               follow=("follow_up", "first"))
    assert len(per_compound) == cr.N_COMPOUNDS
    assert (per_compound["days"] == 1).all() and (per_compound["arms"] == 1).all()
    assert per_compound["follow"].sum() == cr.FOLLOW_UP_COMPOUNDS
    dates = reg["roadshow_date"]
    assert dates.between(cr.ROADSHOW_FIRST, cr.ROADSHOW_LAST).all() and (dates.dt.day_of_week >= 5).all()
    assert reg["phone"].str.fullmatch(r"13\d{9}").all()
    assert reg["msn"].dropna().str.fullmatch(r"user\d{6}@hotmail\.com").all()


def test_every_channel_logs_its_own_identifier(sim):
    seed, out, reg = sim
    log = out["touchpoints"]
    assert cr.load_touchpoints(seed).equals(log)
    assert list(log.columns) == ["time", "channel", "contact"] and log["time"].is_monotonic_increasing
    pattern = {"sms_coupon_open": r"13\d{9}", "car_purchase": r"13\d{9}", "msn_bot_chat": r"user\d{6}@hotmail\.com",
               "club_blog": r"T\d{5}", "dealer_coupon": r"T\d{5}"}
    for channel, regex in pattern.items():
        assert log.loc[log["channel"] == channel, "contact"].str.fullmatch(regex).all(), channel
    hours = log["time"].dt.hour + log["time"].dt.minute / 60
    assert hours.between(8, 22).all()
    owner = _owners(reg)
    outsiders = log[~log["contact"].isin(owner)]
    assert (outsiders.groupby("channel").size().to_dict()
            == {"car_purchase": cr.WALK_IN_PURCHASES, "msn_bot_chat": cr.OTHER_BOT_CHATS})


def test_the_log_records_what_each_visitor_did(sim):
    _, out, reg = sim
    log = out["touchpoints"]
    owner = _owners(reg)
    tagged = log.assign(temp_id=log["contact"].map(owner)).dropna(subset=["temp_id"])
    tagged = tagged.merge(reg[["temp_id", "roadshow_date", "follow_up"]], on="temp_id")
    days = (tagged["time"].dt.normalize() - tagged["roadshow_date"]).dt.days
    assert (days >= 0).all()
    # car-only visitors get no follow-up at all
    assert set(tagged.loc[~tagged["follow_up"], "channel"]) <= {"car_purchase"}
    truth = reg.set_index("temp_id")
    for channel, flag in zip(FOLLOW_UP_CHANNELS, ["opened", "chat", "blog", "dealer"], strict=True):
        assert set(tagged.loc[tagged["channel"] == channel, "temp_id"]) == set(truth.index[truth[flag]]), channel
    purchase = tagged[tagged["channel"] == "car_purchase"]
    in_window = purchase[days[purchase.index] <= cr.PURCHASE_WINDOW_DAYS]
    assert set(in_window["temp_id"]) == set(truth.index[truth["buy"] & ~truth["late"]])
    assert set(purchase["temp_id"]) == set(truth.index[truth["buy"]])
    assert purchase["temp_id"].is_unique


def test_each_step_follows_its_probability(sim):
    _, _, reg = sim
    fu = reg[reg["follow_up"]]
    n = len(reg)
    assert _close_to(reg["msn"].notna().mean(), cr.MSN_SHARE, n)
    assert _close_to(fu["opened"].mean(), cr.P_COUPON_OPEN, len(fu))
    with_msn = fu[fu["msn"].notna()]
    for opened in (True, False):
        part = with_msn[with_msn["opened"] == opened]
        assert _close_to(part["chat"].mean(), cr.P_BOT_CHAT[opened], len(part)), opened
    assert not fu.loc[fu["msn"].isna(), "chat"].any()
    for chat in (True, False):
        part = fu[fu["chat"] == chat]
        assert _close_to(part["blog"].mean(), cr.P_BLOG[chat], len(part)), chat
    bloggers = fu[fu["blog"]]
    assert _close_to(bloggers["dealer"].mean(), cr.P_DEALER_AFTER_BLOG, len(bloggers))
    for opened in (True, False):
        part = fu[~fu["blog"] & (fu["opened"] == opened)]
        assert _close_to(part["dealer"].mean(), cr.P_DEALER[opened], len(part)), opened
    visitors = fu[fu["dealer"]]
    assert _close_to(visitors["buy"].mean(), cr.P_BUY_AFTER_DEALER, len(visitors))
    others = reg[~reg["dealer"]]
    assert _close_to(others["buy"].mean(), cr.P_BUY_BASE, len(others))
    assert not reg.loc[~reg["follow_up"], ["opened", "chat", "blog", "dealer"]].any().any()


def _enumerated_purchase_rate(follow_up: bool) -> float:
    """Expected share buying within the window, summed over every path of the chain."""
    if not follow_up:
        return cr.P_BUY_BASE * (1 - cr.LATE_BUYER_SHARE)
    total = 0.0
    for msn, opened, chat, blog, dealer in itertools.product((True, False), repeat=5):
        if chat and not msn:
            continue   # no MSN account, no bot chat: this path has probability zero
        p = cr.MSN_SHARE if msn else 1 - cr.MSN_SHARE
        p *= cr.P_COUPON_OPEN if opened else 1 - cr.P_COUPON_OPEN
        p_chat = cr.P_BOT_CHAT[opened] if msn else 0.0
        p *= p_chat if chat else 1 - p_chat
        p *= cr.P_BLOG[chat] if blog else 1 - cr.P_BLOG[chat]
        p_dealer = cr.P_DEALER_AFTER_BLOG if blog else cr.P_DEALER[opened]
        p *= p_dealer if dealer else 1 - p_dealer
        total += p * (cr.P_BUY_AFTER_DEALER if dealer else cr.P_BUY_BASE)
    return total * (1 - cr.LATE_BUYER_SHARE)


def test_expected_purchase_rate_agrees_with_the_enumeration():
    for follow_up in (True, False):
        assert cr.expected_purchase_rate(follow_up) == pytest.approx(_enumerated_purchase_rate(follow_up), rel=1e-12)


def test_measured_purchase_rates_are_calibrated_and_the_comparison_has_power(sim):
    """What students measure (a purchase 0-90 days after the roadshow, by phone) against the
    enumerated rates; and the design basis of the notebook's reading: the expected difference is
    at least 3 standard errors for about 1,400 visitors per arm, so the follow-up shows."""
    _, out, reg = sim
    log = out["touchpoints"]
    buys = log[log["channel"] == "car_purchase"].merge(reg, left_on="contact", right_on="phone")
    days = (buys["time"].dt.normalize() - buys["roadshow_date"]).dt.days
    bought = reg["temp_id"].isin(buys.loc[days.between(0, cr.PURCHASE_WINDOW_DAYS), "temp_id"])
    rate = {}
    for follow_up in (True, False):
        arm = bought[reg["follow_up"] == follow_up]
        p = _enumerated_purchase_rate(follow_up)
        assert _close_to(arm.mean(), p, len(arm)), follow_up
        rate[follow_up] = (p, len(arm))
    (p1, n1), (p0, n0) = rate[True], rate[False]
    assert p1 - p0 > 3 * math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)


def test_compounds_get_about_the_stated_number_of_visitors(sim):
    _, _, reg = sim
    counts = reg.groupby("compound").size()
    se = math.sqrt(cr.VISITORS_MEAN / cr.N_COMPOUNDS)   # Poisson counts
    assert counts.mean() == pytest.approx(cr.VISITORS_MEAN, abs=4 * se)


def test_seeds_differ_and_default_is_the_default_seed():
    assert cr.load_touchpoints(None).equals(cr.simulate_roadshow(cr.DEFAULT_SEED)["touchpoints"])
    assert not cr.load_registrations(1).equals(cr.load_registrations(2))
    reg = cr.load_registrations()
    reg.loc[0, "phone"] = "x"
    assert cr.load_registrations().loc[0, "phone"] != "x"
    assert np.isfinite(cr.expected_purchase_rate(True))
