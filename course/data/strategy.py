"""Case 01 (strategy stability): simulated sales, strategy log and rep roster for two divisions.

Article: 篇1 建立高效医药营销体系的游戏规则(一) ("Rules of the game for an efficient pharma
marketing system, part 1") by Shi Lichen (史立臣). Its small case: a trend-chasing owner resets
the goals at frequent meetings -- OTC in the first half-year, prescription drugs (Rx) in the
second; a capsule as the lead product this quarter, a tablet the next -- until the managers
quit and the firm declines. The article gives no figures, so everything here is simulated.

The firm has two sales divisions over 36 months, each with :data:`REPS_PER_DIVISION` reps
selling four products (two lines, OTC and Rx, each with a capsule and a tablet):

* ``stable``: follows a 3-year plan; the focus (line and lead product) never changes.
* ``switching``: the owner's division. At every quarterly meeting (months 4, 7, ..., 34) the
  owner may switch the lead product's form (capsule <-> tablet) with probability
  :data:`P_PRODUCT_FLIP`; at the half-year meetings (months 7, 13, 19, 25, 31) he may also flip
  the focus line (OTC <-> Rx) with probability :data:`P_LINE_FLIP`. A *switch* is a month whose
  focus line or lead product differs from the previous month's.

Calibration (the brief's targets; tested in ``tests/test_data_strategy.py``):

* **Learning-curve ramp.** In the month a switch takes effect ("month 1 after the switch") every
  rep of the division works at :data:`RAMP_START` (50%) of full productivity, then climbs in
  equal steps back to 100% over :data:`RAMP_MONTHS` months::

      ramp(j) = min(1, RAMP_START + (1 - RAMP_START) * j / RAMP_MONTHS),  j = t - s

  where ``s`` is the month of the most recent switch (a new switch restarts the ramp). A new
  hire follows the same curve from the hire month. A rep's multiplier is the smaller of the two.
* **Attrition hazard.** At the end of month ``t`` each active rep leaves with probability::

      h(t) = BASE_HAZARD * HAZARD_RATIO_PER_SWITCH ** n12(t)

  where ``n12(t)`` is the number of switches in the division in months ``t-11 .. t`` (months
  before month 1 had none). A leaver is replaced :data:`HIRE_LAG_MONTHS` months after the exit
  month (one month stays vacant).
* **Sales.** A rep's monthly sales (thousand yuan) = potential x multiplier x noise, where the
  potential is lognormal with mean :data:`POTENTIAL_MEAN_KYUAN` and the noise is lognormal with
  mean 1 and log-sd :data:`NOISE_SIGMA`. The total is split over the four products with
  Dirichlet shares centred on :data:`MIX_LEAD` (lead product), :data:`MIX_FOCUS_OTHER` (the
  other product of the focus line) and :data:`MIX_OTHER_LINE` (each product of the other line).

``seed=None`` gives the course-wide default data (seed :data:`DEFAULT_SEED`); an integer gives a
reproducible per-student variant.

>>> sales = load_sales()
>>> sorted(sales["division"].unique())
['stable', 'switching']
>>> load_strategy_log().shape
(72, 4)
>>> load_sales(seed=3).equals(load_sales(seed=3))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

#: Seed of the course-wide default data.
DEFAULT_SEED = 20110101

#: Months simulated (3 years, the horizon of the article's 3-year business strategy).
N_MONTHS = 36
#: Division names.
DIVISIONS = ("stable", "switching")
#: Reps per division at month 1 (leavers are replaced, so headcount stays near this).
REPS_PER_DIVISION = 50
#: Product lines and forms (article: OTC vs prescription drugs; capsule vs tablet).
LINES = ("OTC", "Rx")
FORMS = ("capsule", "tablet")
#: The four products, named "<line> <form>".
PRODUCTS = tuple(f"{line} {form}" for line in LINES for form in FORMS)

#: The stable division's focus for all 36 months (derived from its 3-year plan).
STABLE_FOCUS = ("Rx", "Rx capsule")
#: Quarterly meetings of the switching division (first months of quarters 2..12).
QUARTER_MEETINGS = tuple(range(4, N_MONTHS + 1, 3))
#: Half-year meetings (first months of half-years 2..6), where the focus line may flip.
HALF_YEAR_MEETINGS = tuple(range(7, N_MONTHS + 1, 6))
#: Probability that the owner flips the focus line (OTC <-> Rx) at a half-year meeting.
P_LINE_FLIP = 0.8
#: Probability that the owner flips the lead product's form (capsule <-> tablet) at a meeting.
P_PRODUCT_FLIP = 0.6
#: The switching division's log is redrawn until it has at least this many switches (the
#: article's owner switches "every quarter or half-year", so a near-stable draw would not fit).
MIN_SWITCHES = 6

#: Productivity in the first month after a switch, as a share of full productivity (brief: ~50%).
RAMP_START = 0.5
#: Months to climb back from RAMP_START to 100% in equal steps (brief: "over k months").
RAMP_MONTHS = 4

#: Monthly exit probability of a rep with no switch in the trailing 12 months (~13.5% a year).
BASE_HAZARD = 0.012
#: Multiplicative rise in the monthly exit probability per switch in the trailing 12 months.
HAZARD_RATIO_PER_SWITCH = 1.45
#: A leaver's replacement starts this many months after the exit month.
HIRE_LAG_MONTHS = 2
#: New hires at month 1 have been with the firm between 0 and this many months.
MAX_INITIAL_TENURE = 48

#: Mean full-productivity monthly sales per rep (thousand yuan) and its log-sd across reps.
POTENTIAL_MEAN_KYUAN = 100.0
POTENTIAL_SIGMA = 0.25
#: Log-sd of the month-to-month multiplicative noise on a rep's sales (mean-one lognormal).
NOISE_SIGMA = 0.10
#: Expected product mix: lead product, the focus line's other product, each other-line product.
MIX_LEAD = 0.50
MIX_FOCUS_OTHER = 0.20
MIX_OTHER_LINE = 0.15
#: Dirichlet concentration of the monthly product mix (higher = closer to the expected mix).
MIX_CONCENTRATION = 60.0


def ramp(months_since: np.ndarray | float) -> np.ndarray:
    """Productivity multiplier ``months_since`` months after a switch or hire (0 = that month).

    >>> ramp(np.array([0, 1, 2, 3, 4, 10])).tolist()
    [0.5, 0.625, 0.75, 0.875, 1.0, 1.0]
    """
    j = np.asarray(months_since, dtype=float)
    return np.minimum(1.0, RAMP_START + (1.0 - RAMP_START) * j / RAMP_MONTHS)


def hazard(n_switches_12m: np.ndarray | float) -> np.ndarray:
    """Monthly exit probability for a given number of switches in the trailing 12 months.

    >>> round(float(hazard(0)), 4), round(float(hazard(2)), 5)
    (0.012, 0.02523)
    """
    return BASE_HAZARD * HAZARD_RATIO_PER_SWITCH ** np.asarray(n_switches_12m, dtype=float)


def trailing_switches(is_switch: np.ndarray, window: int = 12) -> np.ndarray:
    """Switches in the trailing ``window`` months, the current month included.

    >>> trailing_switches(np.array([0, 1, 0, 1, 1]), window=3).tolist()
    [0, 1, 1, 2, 2]
    """
    flags = np.asarray(is_switch, dtype=int)
    csum = np.concatenate([[0], np.cumsum(flags)])
    idx = np.arange(1, len(flags) + 1)
    return csum[idx] - csum[np.maximum(idx - window, 0)]


@dataclass(frozen=True)
class Simulation:
    """The three tables of one simulated firm."""

    sales: pd.DataFrame
    strategy_log: pd.DataFrame
    roster: pd.DataFrame


def _switching_log(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Focus line and lead product per month for the owner's division (MIN_SWITCHES or more)."""
    while True:
        line = str(rng.choice(LINES))
        form = str(rng.choice(FORMS))
        lines, leads, switches = [], [], 0
        for month in range(1, N_MONTHS + 1):
            changed = False
            if month in HALF_YEAR_MEETINGS and rng.random() < P_LINE_FLIP:
                line = LINES[1 - LINES.index(line)]
                changed = True
            if month in QUARTER_MEETINGS and rng.random() < P_PRODUCT_FLIP:
                form = FORMS[1 - FORMS.index(form)]
                changed = True
            switches += changed
            lines.append(line)
            leads.append(f"{line} {form}")
        if switches >= MIN_SWITCHES:
            return lines, leads


def _mix(focus_line: str, lead: str) -> np.ndarray:
    """Expected share of each product in PRODUCTS for a given focus."""
    return np.array([
        MIX_LEAD if p == lead else MIX_FOCUS_OTHER if p.startswith(focus_line + " ") else MIX_OTHER_LINE
        for p in PRODUCTS
    ])


def _simulate_division(
    rng: np.random.Generator, division: str, lines: list[str], leads: list[str], n_reps: int
) -> tuple[list[tuple], list[dict]]:
    prefix = "ST" if division == "stable" else "SW"
    is_switch = np.array([m > 0 and (lines[m] != lines[m - 1] or leads[m] != leads[m - 1])
                          for m in range(N_MONTHS)])
    n12 = trailing_switches(is_switch)
    switch_months = np.flatnonzero(is_switch) + 1
    reps: list[dict] = []

    def hire(month: int) -> None:
        potential = POTENTIAL_MEAN_KYUAN * np.exp(
            POTENTIAL_SIGMA * rng.standard_normal() - POTENTIAL_SIGMA**2 / 2)
        reps.append({"rep_id": f"{prefix}-{len(reps) + 1:03d}", "division": division,
                     "hire_month": month, "exit_month": None, "potential_kyuan": round(float(potential), 2)})

    for _ in range(n_reps):
        hire(-int(rng.integers(0, MAX_INITIAL_TENURE)))
    rows: list[tuple] = []
    for month in range(1, N_MONTHS + 1):
        active = [r for r in reps if r["hire_month"] <= month and r["exit_month"] is None]
        past = switch_months[switch_months <= month]
        switch_mult = float(ramp(month - past[-1])) if len(past) else 1.0
        mix = _mix(lines[month - 1], leads[month - 1]) * MIX_CONCENTRATION
        hires = np.array([r["hire_month"] for r in active])
        potential = np.array([r["potential_kyuan"] for r in active])
        mult = np.minimum(switch_mult, ramp(month - hires))
        noise = np.exp(NOISE_SIGMA * rng.standard_normal(len(active)) - NOISE_SIGMA**2 / 2)
        amounts = np.round((potential * mult * noise)[:, None] * rng.dirichlet(mix, size=len(active)), 3)
        for rep, rep_amounts in zip(active, amounts.tolist(), strict=True):
            for product, amount in zip(PRODUCTS, rep_amounts, strict=True):
                rows.append((month, division, rep["rep_id"], product.split(" ")[0], product, amount))
        leaving = rng.random(len(active)) < float(hazard(n12[month - 1]))
        for rep, leaves in zip(active, leaving, strict=True):
            if leaves:
                rep["exit_month"] = month
                if month + HIRE_LAG_MONTHS <= N_MONTHS:
                    hire(month + HIRE_LAG_MONTHS)
    return rows, reps


@lru_cache(maxsize=16)
def _simulate_cached(seed: int, reps_per_division: int) -> Simulation:
    rng = np.random.default_rng(seed)
    sw_lines, sw_leads = _switching_log(rng)
    focus = {
        "stable": ([STABLE_FOCUS[0]] * N_MONTHS, [STABLE_FOCUS[1]] * N_MONTHS),
        "switching": (sw_lines, sw_leads),
    }
    rows: list[tuple] = []
    reps: list[dict] = []
    for division in DIVISIONS:
        div_rows, div_reps = _simulate_division(rng, division, *focus[division], reps_per_division)
        rows += div_rows
        reps += div_reps
    sales = pd.DataFrame(rows, columns=["month", "division", "rep_id", "line", "product", "sales_kyuan"])
    log = pd.DataFrame(
        [(m + 1, d, focus[d][0][m], focus[d][1][m]) for d in DIVISIONS for m in range(N_MONTHS)],
        columns=["month", "division", "focus_line", "lead_product"],
    )
    roster = pd.DataFrame(reps)
    roster["exit_month"] = roster["exit_month"].astype("Int64")
    roster = roster[["rep_id", "division", "hire_month", "exit_month", "potential_kyuan"]]
    return Simulation(sales=sales, strategy_log=log, roster=roster)


def simulate(seed: int | None = None, *, reps_per_division: int = REPS_PER_DIVISION) -> Simulation:
    """All three tables for one seed (``None`` = :data:`DEFAULT_SEED`); fresh copies."""
    sim = _simulate_cached(DEFAULT_SEED if seed is None else int(seed), int(reps_per_division))
    return Simulation(sales=sim.sales.copy(), strategy_log=sim.strategy_log.copy(),
                      roster=sim.roster.copy())


def load_sales(seed: int | None = None) -> pd.DataFrame:
    """Monthly sales per rep and product: ``month`` (1-36), ``division``, ``rep_id``, ``line``
    (OTC/Rx), ``product`` (e.g. "OTC capsule"), ``sales_kyuan`` (thousand yuan)."""
    return simulate(seed).sales


def load_strategy_log(seed: int | None = None) -> pd.DataFrame:
    """One row per month and division: ``month``, ``division``, ``focus_line`` (OTC/Rx) and
    ``lead_product`` (one of :data:`PRODUCTS`) in force that month."""
    return simulate(seed).strategy_log


def load_roster(seed: int | None = None) -> pd.DataFrame:
    """One row per rep: ``rep_id``, ``division``, ``hire_month`` (first month worked; 0 or
    negative = hired before month 1), ``exit_month`` (last month worked; <NA> = still employed
    after month 36) and ``potential_kyuan`` (sales at full productivity, thousand yuan/month)."""
    return simulate(seed).roster
