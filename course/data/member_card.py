"""Data for case 04, part B: a membership card whose members are loyal to the card, not the brand.

篇5 warns that much membership marketing (会员营销) turns into membership-*card* marketing: the
points and rewards train members to be loyal to the card (对卡片的忠诚), not to the brand. This
module simulates the till records of such a card so that the claim can be measured. The article
gives no data; every parameter below is an assumption of this course except the points value
(100 points = 10 yuan, the article's car-club rate).

What the simulation builds in (and the notebook asks students to find):

- **Purchases timed to the reward threshold** (the goal-gradient effect that Kivetz, Urminsky &
  Zheng, 2006, *Journal of Marketing Research* 43(1), found on a café's stamp card): a
  card-loyal member comes back sooner the closer the card is to the next reward.
  Taylor & Neslin (2005, *Journal of Retailing* 81(4)) call it points pressure.
- **Churn after redemption** (this course's reading of the article's charge, not a published
  finding; Kivetz et al. saw a milder form, purchases slowing down after the reward): a
  card-loyal member is much more likely to stop buying right after a purchase that earns a
  reward.
- Brand-loyal members ignore the card: their purchase rhythm and churn do not depend on it.

The card (:func:`load_card_purchases`): the cooking-oil brand's card, 1 point per full yuan of
each purchase; when the balance reaches :data:`REWARD_POINTS` the till issues a voucher of
:data:`REWARD_YUAN` and deducts the points (any excess carries over). Members join with their
first purchase during 2006; the records run to the end of 2007.

Generator (:func:`simulate_card`), per member: a base gap between purchases drawn from a gamma
distribution (mean :data:`MEAN_GAP_DAYS`, shape :data:`GAP_SHAPE`); card-loyal with probability
:data:`CARD_LOYAL_SHARE`. After each purchase with new balance ``b`` the next gap is exponential
with mean ``base × (1 − GOAL_GRADIENT × b / REWARD_POINTS)`` for a card-loyal member and
``base`` for a brand-loyal one; after each purchase the member stops for good with probability
:data:`CHURN_PER_PURCHASE`, or :data:`CHURN_AFTER_REWARD_CARD` when a card-loyal member's
purchase earned a reward. Basket values are lognormal (median :data:`BASKET_MEDIAN_YUAN`).
Times of day fall in shop hours (08:00-22:00; the clock maps each simulated day onto them).

>>> card = load_card_purchases()
>>> list(card.columns)
['member_id', 'time', 'amount_yuan']
>>> bool(card.groupby("member_id")["time"].is_monotonic_increasing.all())
True
>>> points_for(75.9), REWARD_POINTS * POINT_VALUE_YUAN == REWARD_YUAN
(75, True)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

#: Seed of the course-wide default data (the card's last year).
DEFAULT_SEED = 2007

#: Article (篇5, the car club): 100 points are worth 10 yuan.
POINT_VALUE_YUAN = 10 / 100
#: Earn rule: 1 point per full yuan of each purchase (assumption).
POINTS_PER_YUAN = 1
#: A reward every 300 points: a 30-yuan voucher (assumption; the article's points value).
REWARD_POINTS = 300
REWARD_YUAN = REWARD_POINTS * POINT_VALUE_YUAN

#: Members and the programme window: first purchases during 2006, records to 31 Dec 2007.
N_MEMBERS = 2_000
START = pd.Timestamp("2006-01-01")
END = pd.Timestamp("2008-01-01")  # exclusive: the records cover 2006 and 2007
JOIN_DAYS = 365
#: A purchase counts as followed by a lapse when the member buys nothing in the next
#: :data:`LAPSE_DAYS` days; only purchases made before :data:`LAPSE_CUTOFF` can be judged.
LAPSE_DAYS = 120
LAPSE_CUTOFF = END - pd.Timedelta(days=LAPSE_DAYS)

#: Basket value per purchase: lognormal with this median (yuan) and log-sd (assumptions).
BASKET_MEDIAN_YUAN = 75.0
BASKET_LOG_SD = 0.35
#: Members' base gap between purchases: gamma with this mean (days) and shape (assumptions).
MEAN_GAP_DAYS = 30.0
GAP_SHAPE = 3.0
#: Share of members who are loyal to the card rather than to the brand (assumption).
CARD_LOYAL_SHARE = 0.4
#: Goal gradient: a card-loyal member's expected gap shrinks linearly with the card's progress
#: to the next reward, to (1 - GOAL_GRADIENT) of the base gap at a full card (assumption; Kivetz
#: et al. 2006 report inter-purchase times about 20% shorter near the reward, on average over
#: all members of their stamp card).
GOAL_GRADIENT = 0.5
#: Probability of stopping for good after a purchase (everyone), and after a purchase that
#: earned a reward for a card-loyal member (assumptions).
CHURN_PER_PURCHASE = 0.03
CHURN_AFTER_REWARD_CARD = 0.35
#: Shop hours onto which each simulated day is mapped.
OPEN_HOUR, CLOSE_HOUR = 8, 22


def points_for(amount_yuan: float) -> int:
    """Points one purchase earns: 1 per full yuan.

    >>> points_for(59.9), points_for(120.0)
    (59, 120)
    """
    return int(amount_yuan // 1) * POINTS_PER_YUAN


def simulate_card(seed: int) -> dict[str, pd.DataFrame]:
    """Simulate the card: ``purchases`` (as :func:`load_card_purchases`) and ``truth`` (one row
    per member: ``member_id``, ``card_loyal``, ``base_gap_days``; for tests, not for students),
    and ``sim`` (each purchase's continuous simulated time in days, in the order of
    ``purchases``, for tests)."""
    rng = np.random.default_rng(seed)
    n = N_MEMBERS
    horizon = float((END - START).days)
    t = rng.integers(0, JOIN_DAYS, size=n) + rng.random(n)
    card = rng.random(n) < CARD_LOYAL_SHARE
    base = rng.gamma(GAP_SHAPE, MEAN_GAP_DAYS / GAP_SHAPE, size=n)
    balance = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    who, when, amounts = [], [], []
    while alive.any():
        idx = np.flatnonzero(alive)
        amount = np.round(BASKET_MEDIAN_YUAN * np.exp(rng.normal(0, BASKET_LOG_SD, size=len(idx))), 1)
        who.append(idx)
        when.append(t[idx].copy())
        amounts.append(amount)
        new_balance = balance[idx] + np.floor(amount).astype(np.int64) * POINTS_PER_YUAN
        reward = new_balance >= REWARD_POINTS
        new_balance %= REWARD_POINTS
        churn_p = np.where(reward & card[idx], CHURN_AFTER_REWARD_CARD, CHURN_PER_PURCHASE)
        churn = rng.random(len(idx)) < churn_p
        mean_gap = base[idx] * np.where(card[idx], 1 - GOAL_GRADIENT * new_balance / REWARD_POINTS, 1.0)
        t_next = t[idx] + rng.exponential(mean_gap)
        alive[idx] = ~churn & (t_next < horizon)
        t[idx] = t_next
        balance[idx] = new_balance
    member = np.concatenate(who)
    days = np.concatenate(when)
    amount = np.concatenate(amounts)
    order = np.lexsort((days, member))
    member, days, amount = member[order], days[order], amount[order]
    whole = np.floor(days)
    clock = whole + (OPEN_HOUR + (CLOSE_HOUR - OPEN_HOUR) * (days - whole)) / 24
    minutes = np.round(clock * 24 * 60).astype(np.int64)
    same_member = member[1:] == member[:-1]
    while True:  # two purchases of one member in the same minute: the later one a minute on
        tied = np.flatnonzero(same_member & (minutes[1:] <= minutes[:-1])) + 1
        if not len(tied):
            break
        minutes[tied] = minutes[tied - 1] + 1
    time = (START + pd.to_timedelta(minutes, unit="min")).astype("datetime64[ns]")
    ids = np.array([f"C{i + 1:05d}" for i in range(n)])
    purchases = pd.DataFrame({"member_id": ids[member], "time": time, "amount_yuan": amount})
    truth = pd.DataFrame({"member_id": ids, "card_loyal": card, "base_gap_days": base})
    return {"purchases": purchases, "truth": truth, "sim": pd.DataFrame({"days": days})}


@lru_cache(maxsize=16)
def _card(seed: int) -> dict[str, pd.DataFrame]:
    return simulate_card(seed)


def load_card_purchases(seed: int | None = None) -> pd.DataFrame:
    """The card's till records, one row per purchase, sorted by member then time.

    Columns: ``member_id`` (str, ``C…``), ``time`` (datetime, to the minute), ``amount_yuan``
    (float, the purchase's value in yuan). Points and rewards are not stored: they follow from the
    earn rule (:func:`points_for`, :data:`REWARD_POINTS`). ``seed=None``: the course-wide default
    data (:data:`DEFAULT_SEED`); an integer: a student's own variant.
    """
    return _card(DEFAULT_SEED if seed is None else int(seed))["purchases"].copy()
