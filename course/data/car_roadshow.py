"""Data for case 04, part C: the car in the compound and the follow-up through the CRM.

篇5 imagines a car brand's test car parked in a residential compound, and asks whether parking
it there is already "2.0". Its answer is the follow-up: the same afternoon a photo of you with the
car in your mailbox, an SMS from the call centre with an e-coupon and a temporary member id, the
brand's MSN bot in your friends list, and 100 club points for a blog about the ride. This module
simulates such a roadshow so that the follow-up can be measured. The article gives no data:
every parameter below is an assumption of this course.

The design is an experiment the article does not describe (this course's extension): of
:data:`N_COMPOUNDS` compounds, a random :data:`FOLLOW_UP_COMPOUNDS` get the full follow-up and
the others only the car ("car only": visitors leave their phone number for a prize draw, and
nothing follows). Each system records its own identifier, as in the article:

- ``registrations`` (the tablet at the car): ``temp_id`` (the temporary member id, ``T…``),
  ``compound``, ``roadshow_date``, ``follow_up`` (bool), ``phone``, ``msn`` (missing when not
  given);
- ``touchpoints`` (one event log fed by several systems): ``time``, ``channel`` and ``contact``,
  where the contact is the phone number for ``sms_coupon_open`` (the call centre's SMS
  gateway) and ``car_purchase`` (the dealer's sales system), the MSN account for
  ``msn_bot_chat``, and the temporary member id for ``club_blog`` (points are credited to the
  member) and ``dealer_coupon`` (the e-coupon shown at the dealer). The log also holds events
  of people who never came to a roadshow (other users of the bot, walk-in buyers).

Generator (:func:`simulate_roadshow`), per registered visitor of a follow-up compound: opens the
SMS coupon with :data:`P_COUPON_OPEN`; chats with the bot (only with an MSN account) with
:data:`P_BOT_CHAT` (given coupon opened or not); blogs with :data:`P_BLOG` (given a bot chat or
not); shows the coupon at the dealer with :data:`P_DEALER` (given a blog, else given coupon
opened or not); buys a car with :data:`P_BUY_AFTER_DEALER` after a dealer visit, otherwise with
the base rate :data:`P_BUY_BASE`, the same as every visitor of a car-only compound. A share
:data:`LATE_BUYER_SHARE` of buyers buy 91-150 days after the roadshow, the rest within 90.

>>> reg, log = load_registrations(), load_touchpoints()
>>> sorted(log["channel"].unique()) == sorted(CHANNELS)
True
>>> int(reg["follow_up"].groupby(reg["compound"]).first().sum()) == FOLLOW_UP_COMPOUNDS
True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

#: Seed of the course-wide default data (the article's year).
DEFAULT_SEED = 2008

#: Compounds with a roadshow, and how many of them (chosen at random) get the follow-up.
N_COMPOUNDS = 40
FOLLOW_UP_COMPOUNDS = 20
#: Roadshows are held on weekend days from 5 April to 29 June 2008 (one compound a day or more).
ROADSHOW_FIRST = pd.Timestamp("2008-04-05")
ROADSHOW_LAST = pd.Timestamp("2008-06-29")
#: Registered visitors per compound (people who sat in the car and registered): Poisson mean.
VISITORS_MEAN = 70
#: Share of visitors who give an MSN account at registration.
MSN_SHARE = 0.6
#: Follow-up compounds: probability of opening the SMS e-coupon.
P_COUPON_OPEN = 0.45
#: Probability of chatting with the MSN bot (visitors with an MSN account), given the coupon
#: was opened (True) or not (False).
P_BOT_CHAT = {True: 0.40, False: 0.15}
#: Probability of a club blog post, given a bot chat (True) or not (False).
P_BLOG = {True: 0.25, False: 0.04}
#: Probability of showing the e-coupon at the dealer: after a blog post, else given the coupon
#: was opened (True) or not (False).
P_DEALER_AFTER_BLOG = 0.30
P_DEALER = {True: 0.15, False: 0.04}
#: Probability of buying a car after a dealer visit; base rate for everyone else (car-only
#: compounds and follow-up visitors who did not visit the dealer).
P_BUY_AFTER_DEALER = 0.25
P_BUY_BASE = 0.015
#: Buyers who buy late, 91-150 days after their roadshow (the rest buy within 90 days).
LATE_BUYER_SHARE = 0.15
#: A purchase counts for the roadshow when it falls within this many days after it.
PURCHASE_WINDOW_DAYS = 90
#: Events in the log from people who never registered at a roadshow.
OTHER_BOT_CHATS = 300
WALK_IN_PURCHASES = 200

CHANNELS = ("sms_coupon_open", "msn_bot_chat", "club_blog", "dealer_coupon", "car_purchase")


def expected_purchase_rate(follow_up: bool) -> float:
    """Expected share of registered visitors who buy within the window, from the parameters.

    >>> round(expected_purchase_rate(False), 5)
    0.01275
    """
    if not follow_up:
        p_buy = P_BUY_BASE
    else:
        p_dealer = 0.0
        for opened, p_open in ((True, P_COUPON_OPEN), (False, 1 - P_COUPON_OPEN)):
            p_chat = MSN_SHARE * P_BOT_CHAT[opened]
            p_blog = p_chat * P_BLOG[True] + (1 - p_chat) * P_BLOG[False]
            p_dealer += p_open * (p_blog * P_DEALER_AFTER_BLOG + (1 - p_blog) * P_DEALER[opened])
        p_buy = p_dealer * P_BUY_AFTER_DEALER + (1 - p_dealer) * P_BUY_BASE
    return p_buy * (1 - LATE_BUYER_SHARE)


def _unique_codes(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    codes = rng.choice(np.arange(low, high), size=n, replace=False) if high - low < 10**7 else None
    if codes is None:
        codes = np.unique(rng.integers(low, high, size=2 * n))
        codes = rng.permutation(codes)[:n]
    return codes


def _daytime(day0, offset_days: np.ndarray):
    """``day0`` plus ``offset_days``, each day's fraction mapped onto 08:00-22:00, to the minute."""
    whole = np.floor(offset_days)
    clock = whole + (8 + 14 * (offset_days - whole)) / 24
    return day0 + pd.to_timedelta(np.round(clock * 1440), unit="min")


def simulate_roadshow(seed: int) -> dict[str, pd.DataFrame]:
    """Simulate the roadshows: a dict of ``registrations`` and ``touchpoints`` (as the loaders)
    and ``truth`` (per visitor: what they did, for tests)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(ROADSHOW_FIRST, ROADSHOW_LAST)
    weekend = days[days.day_of_week >= 5]
    compound = np.array([f"Y{j + 1:02d}" for j in range(N_COMPOUNDS)])
    c_date = np.sort(rng.choice(weekend.to_numpy(), size=N_COMPOUNDS, replace=True))
    c_follow = rng.permutation(N_COMPOUNDS) < FOLLOW_UP_COMPOUNDS
    per = rng.poisson(VISITORS_MEAN, size=N_COMPOUNDS)
    v_c = np.repeat(np.arange(N_COMPOUNDS), per)
    n = len(v_c)
    follow = c_follow[v_c]
    # identifiers: phone numbers and MSN accounts, unique across visitors and outsiders
    phones = _unique_codes(rng, n + WALK_IN_PURCHASES, 13_000_000_000, 13_999_999_999)
    msn_codes = _unique_codes(rng, n + OTHER_BOT_CHATS, 100_000, 999_999)
    phone = np.array([str(p) for p in phones[:n]])
    msn = np.array([f"user{m}@hotmail.com" for m in msn_codes[:n]], dtype=object)
    has_msn = rng.random(n) < MSN_SHARE
    msn[~has_msn] = None
    temp_id = np.array([f"T{i + 1:05d}" for i in range(n)])

    # the follow-up chain (follow-up compounds only)
    opened = follow & (rng.random(n) < P_COUPON_OPEN)
    chat = follow & has_msn & (rng.random(n) < np.where(opened, P_BOT_CHAT[True], P_BOT_CHAT[False]))
    blog = follow & (rng.random(n) < np.where(chat, P_BLOG[True], P_BLOG[False]))
    p_dealer = np.where(blog, P_DEALER_AFTER_BLOG, np.where(opened, P_DEALER[True], P_DEALER[False]))
    dealer = follow & (rng.random(n) < p_dealer)
    buy = rng.random(n) < np.where(dealer, P_BUY_AFTER_DEALER, P_BUY_BASE)
    late = buy & (rng.random(n) < LATE_BUYER_SHARE)

    day0 = pd.DatetimeIndex(c_date[v_c])
    events: list[pd.DataFrame] = []

    def add(mask: np.ndarray, channel: str, contact: np.ndarray, low: float, high: float, repeats=None) -> None:
        idx = np.flatnonzero(mask)
        if repeats is not None:
            idx = np.repeat(idx, repeats[idx])
        events.append(pd.DataFrame({
            "time": _daytime(day0[idx], rng.uniform(low, high, size=len(idx))),
            "channel": channel,
            "contact": contact[idx],
        }))

    add(opened, "sms_coupon_open", phone, 0, 3)
    add(chat, "msn_bot_chat", msn, 0, 14, repeats=1 + rng.poisson(1.5, size=n))
    add(blog, "club_blog", temp_id, 0, 7)
    add(dealer, "dealer_coupon", temp_id, 3, 60)
    add(buy & ~late, "car_purchase", phone, 1, PURCHASE_WINDOW_DAYS)
    add(late, "car_purchase", phone, PURCHASE_WINDOW_DAYS + 1, 150)
    # outsiders: other users of the bot, walk-in buyers
    window = (ROADSHOW_FIRST, ROADSHOW_LAST + pd.Timedelta(days=150))
    span = (window[1] - window[0]).days
    for channel, codes in (
        ("msn_bot_chat", np.array([f"user{m}@hotmail.com" for m in msn_codes[n:]])),
        ("car_purchase", np.array([str(p) for p in phones[n:]])),
    ):
        events.append(pd.DataFrame({
            "time": _daytime(window[0], rng.uniform(0, span, size=len(codes))),
            "channel": channel,
            "contact": codes,
        }))
    log = pd.concat(events, ignore_index=True)
    log["time"] = log["time"].astype("datetime64[ns]")
    log = log.sort_values(["time", "channel", "contact"], kind="stable").reset_index(drop=True)

    registrations = pd.DataFrame({
        "temp_id": temp_id,
        "compound": compound[v_c],
        "roadshow_date": day0.astype("datetime64[ns]"),
        "follow_up": follow,
        "phone": phone,
        "msn": msn,
    })
    truth = pd.DataFrame({
        "temp_id": temp_id, "opened": opened, "chat": chat, "blog": blog, "dealer": dealer,
        "buy": buy, "late": late,
    })
    return {"registrations": registrations, "touchpoints": log, "truth": truth}


@lru_cache(maxsize=16)
def _roadshow(seed: int) -> dict[str, pd.DataFrame]:
    return simulate_roadshow(seed)


def load_registrations(seed: int | None = None) -> pd.DataFrame:
    """One row per registered visitor: ``temp_id`` (str, ``T…``), ``compound`` (``Y01``…),
    ``roadshow_date`` (datetime, the day the car was in the compound), ``follow_up`` (bool: the
    compound got the photo, SMS e-coupon, MSN bot and club points), ``phone`` (str), ``msn``
    (str, or missing when the visitor gave none)."""
    return _roadshow(DEFAULT_SEED if seed is None else int(seed))["registrations"].copy()


def load_touchpoints(seed: int | None = None) -> pd.DataFrame:
    """The event log, one row per event, in time order: ``time`` (datetime), ``channel`` (one
    of :data:`CHANNELS`), ``contact`` (str: a phone number for ``sms_coupon_open`` and
    ``car_purchase``, an MSN account for ``msn_bot_chat``, a temporary member id for
    ``club_blog`` and ``dealer_coupon``). Includes events of people who never registered."""
    return _roadshow(DEFAULT_SEED if seed is None else int(seed))["touchpoints"].copy()
