"""Case 01 (strategy stability): simulated sales, strategy log, rep roster, managers and plans.

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
* **Managers (lasting damage).** Each division has :data:`TEAMS_PER_DIVISION` teams, each led by
  a manager; a rep stays in one team (a replacement joins the leaver's team). At the end of
  month ``t`` a manager leaves with probability::

      h_m(t) = MANAGER_BASE_HAZARD * MANAGER_HAZARD_RATIO_PER_SWITCH ** n12(t)

  (the article: the managers at every level "could not take it"). The post stays vacant for 1
  to :data:`MANAGER_MAX_VACANCY` months (uniform). From the month after the exit, the team sells
  ``1 - ACCOUNT_LOSS`` of what it sold before, **for good**: the hospital and pharmacy accounts
  the manager held leave with them (this course's mechanism for the article's "competitiveness
  was gone"). A team that has lost ``k`` managers sells ``(1 - ACCOUNT_LOSS) ** k``.
* **Sub-strategies (plans).** Three plans carry the marketing strategy into the sales force,
  one for each of three of the article's six parts: the incentive plan (sales-force HR system),
  the call plan (customer management system) and the targets and budget (marketing control
  system). Each favours one line (OTC or Rx). The stable division's plans always favour its
  focus line. The switching division's follow its focus line on their own calendars
  (:data:`PLAN_RULES`): the incentive plan is reset once a year, in months 1, 13 and 25, to the
  focus line then in force; the call plan favours the focus line of 2 months earlier, the budget
  that of 3 months earlier (months before month 1: the month-1 focus).
* **Sales.** A rep's monthly sales (thousand yuan) = potential x multiplier x team accounts x
  noise, where the potential is lognormal with mean :data:`POTENTIAL_MEAN_KYUAN` and the noise
  is lognormal with mean 1 and log-sd :data:`NOISE_SIGMA`. The total is split over the four
  products with Dirichlet shares centred on the month's expected mix: the focus line gets
  ``FOCUS_SHARE_MISALIGNED + (FOCUS_SHARE_ALIGNED - FOCUS_SHARE_MISALIGNED) * a`` where ``a``
  is the share of the three plans that favour the focus line (so 0.70 when all three do, 0.30
  when none does: effort goes where the plans point); within the focus line the lead product
  and the other product split it :data:`MIX_LEAD` : :data:`MIX_FOCUS_OTHER`; the other line's
  two products share the rest equally (:data:`MIX_OTHER_LINE` each when all plans agree).

``seed=None`` gives the course-wide default data (seed :data:`DEFAULT_SEED`); an integer gives a
reproducible per-student variant.

>>> sales = load_sales()
>>> sorted(sales["division"].unique())
['stable', 'switching']
>>> load_strategy_log().shape
(72, 4)
>>> load_managers().groupby("division")["team"].nunique().to_dict()
{'stable': 10, 'switching': 10}
>>> sorted(load_plans()["system"].unique()) == sorted(PLAN_SYSTEMS)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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
#: Expected product mix when all three plans favour the focus line: lead product, the focus
#: line's other product, each other-line product.
MIX_LEAD = 0.50
MIX_FOCUS_OTHER = 0.20
MIX_OTHER_LINE = 0.15
#: Expected share of the focus line when all three plans favour it (= MIX_LEAD + MIX_FOCUS_OTHER)
#: and when none does (the mirror image: the effort goes to the line the plans favour).
FOCUS_SHARE_ALIGNED = MIX_LEAD + MIX_FOCUS_OTHER
FOCUS_SHARE_MISALIGNED = 1.0 - FOCUS_SHARE_ALIGNED

#: Teams per division, and reps per team at month 1 (a bigger simulated firm,
#: ``simulate(reps_per_division=...)``, has more teams of the same size).
TEAMS_PER_DIVISION = 10
REPS_PER_TEAM = REPS_PER_DIVISION // TEAMS_PER_DIVISION
#: Monthly exit probability of a manager with no switch in the trailing 12 months (~7% a year).
MANAGER_BASE_HAZARD = 0.006
#: Rise in a manager's monthly exit probability per switch in the trailing 12 months; larger
#: than the reps' HAZARD_RATIO_PER_SWITCH (the article's managers are the ones who give up).
MANAGER_HAZARD_RATIO_PER_SWITCH = 1.6
#: A manager's post stays vacant between 1 and this many months (uniform).
MANAGER_MAX_VACANCY = 3
#: Share of a team's sales lost for good when its manager leaves (the accounts go too).
ACCOUNT_LOSS = 0.20
#: The notebook's manager-exit event study: a baseline of the EVENT_BEFORE months up to the
#: exit month and EVENT_AFTER months after it; a draw keeps at least MIN_MANAGER_EVENTS such
#: exits (both divisions together), else the simulation is redrawn.
EVENT_BEFORE, EVENT_AFTER = 3, 6
MIN_MANAGER_EVENTS = 3

#: The three plans (sub-strategies) and the article's part of the marketing strategy each carries.
PLAN_SYSTEMS = {
    "incentive plan": "sales-force HR system",
    "call plan": "customer management system",
    "targets and budget": "marketing control system",
}
#: How the switching division's plans follow its focus line: ("reset", months) = set to the
#: focus line in force in each of those months and kept until the next reset; ("lag", k) = the
#: focus line of k months earlier (the month-1 focus before month 1 + k).
PLAN_RULES: dict[str, tuple[str, Any]] = {
    "incentive plan": ("reset", (1, 13, 25)),
    "call plan": ("lag", 2),
    "targets and budget": ("lag", 3),
}
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


def manager_hazard(n_switches_12m: np.ndarray | float) -> np.ndarray:
    """Monthly exit probability of a manager for a given number of trailing-12-month switches.

    >>> round(float(manager_hazard(0)), 4), round(float(manager_hazard(3)), 5)
    (0.006, 0.02458)
    """
    return MANAGER_BASE_HAZARD * MANAGER_HAZARD_RATIO_PER_SWITCH ** np.asarray(n_switches_12m, dtype=float)


def plan_lines(focus_lines: list[str]) -> dict[str, list[str]]:
    """The line each plan favours, month by month, for a division's focus lines (month 1 first).

    >>> plans = plan_lines(["Rx"] * 6 + ["OTC"] * 9)
    >>> "".join(x[0] for x in plans["incentive plan"])
    'RRRRRRRRRRRROOO'
    >>> "".join(x[0] for x in plans["call plan"])
    'RRRRRRRROOOOOOO'
    """
    out = {}
    for system, (kind, arg) in PLAN_RULES.items():
        if kind == "reset":
            current, lines = focus_lines[0], []
            for month, line in enumerate(focus_lines, start=1):
                if month in arg:
                    current = line
                lines.append(current)
        else:
            lines = [focus_lines[max(m - arg, 0)] for m in range(len(focus_lines))]
        out[system] = lines
    return out


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
    """The five tables of one simulated firm."""

    sales: pd.DataFrame
    strategy_log: pd.DataFrame
    roster: pd.DataFrame
    managers: pd.DataFrame
    plans: pd.DataFrame


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


def focus_share(aligned_share: float) -> float:
    """Expected share of the focus line in sales when ``aligned_share`` of the plans favour it.

    >>> [round(focus_share(k / 3), 4) for k in range(4)]
    [0.3, 0.4333, 0.5667, 0.7]
    """
    return FOCUS_SHARE_MISALIGNED + (FOCUS_SHARE_ALIGNED - FOCUS_SHARE_MISALIGNED) * aligned_share


def expected_mix(focus_line: str, lead: str, aligned_share: float = 1.0) -> np.ndarray:
    """Expected share of each product in PRODUCTS for a given focus and plan alignment.

    >>> expected_mix("Rx", "Rx capsule").round(2).tolist()
    [0.15, 0.15, 0.5, 0.2]
    """
    f = focus_share(aligned_share)
    within = {"lead": MIX_LEAD / FOCUS_SHARE_ALIGNED, "other": MIX_FOCUS_OTHER / FOCUS_SHARE_ALIGNED}
    return np.array([
        f * within["lead"] if p == lead else f * within["other"] if p.startswith(focus_line + " ") else (1 - f) / 2
        for p in PRODUCTS
    ])


def _simulate_division(
    rng: np.random.Generator, division: str, lines: list[str], leads: list[str], n_reps: int
) -> tuple[list[tuple], list[dict], list[dict], dict[str, list[str]]]:
    prefix = "ST" if division == "stable" else "SW"
    is_switch = np.array([m > 0 and (lines[m] != lines[m - 1] or leads[m] != leads[m - 1])
                          for m in range(N_MONTHS)])
    n12 = trailing_switches(is_switch)
    switch_months = np.flatnonzero(is_switch) + 1
    plans = plan_lines(lines)
    aligned = np.mean([[plans[s][m] == lines[m] for m in range(N_MONTHS)] for s in PLAN_SYSTEMS], axis=0)
    reps: list[dict] = []
    managers: list[dict] = []
    n_teams = max(1, n_reps // REPS_PER_TEAM)
    team_accounts = np.ones(n_teams + 1)                    # index = team number (1-based)

    def hire(month: int, team: int) -> None:
        potential = POTENTIAL_MEAN_KYUAN * np.exp(
            POTENTIAL_SIGMA * rng.standard_normal() - POTENTIAL_SIGMA**2 / 2)
        reps.append({"rep_id": f"{prefix}-{len(reps) + 1:03d}", "division": division, "team": team,
                     "hire_month": month, "exit_month": None, "potential_kyuan": round(float(potential), 2)})

    def appoint(month: int, team: int) -> None:
        managers.append({"manager_id": f"{prefix}-M{len(managers) + 1:02d}", "division": division,
                         "team": team, "first_month": month, "last_month": None})

    for i in range(n_reps):
        hire(-int(rng.integers(0, MAX_INITIAL_TENURE)), i % n_teams + 1)
    for team in range(1, n_teams + 1):
        appoint(-int(rng.integers(0, MAX_INITIAL_TENURE)), team)
    rows: list[tuple] = []
    for month in range(1, N_MONTHS + 1):
        active = [r for r in reps if r["hire_month"] <= month and r["exit_month"] is None]
        past = switch_months[switch_months <= month]
        switch_mult = float(ramp(month - past[-1])) if len(past) else 1.0
        mix = expected_mix(lines[month - 1], leads[month - 1], float(aligned[month - 1])) * MIX_CONCENTRATION
        hires = np.array([r["hire_month"] for r in active])
        potential = np.array([r["potential_kyuan"] for r in active])
        accounts = team_accounts[[r["team"] for r in active]]
        mult = np.minimum(switch_mult, ramp(month - hires)) * accounts
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
                    hire(month + HIRE_LAG_MONTHS, rep["team"])
        in_post = [m for m in managers if m["first_month"] <= month and m["last_month"] is None]
        quitting = rng.random(len(in_post)) < float(manager_hazard(n12[month - 1]))
        vacancy = rng.integers(1, MANAGER_MAX_VACANCY + 1, len(in_post))
        for manager, quits, gap in zip(in_post, quitting, vacancy, strict=True):
            if quits:
                manager["last_month"] = month
                team_accounts[manager["team"]] *= 1 - ACCOUNT_LOSS
                if month + 1 + gap <= N_MONTHS:
                    appoint(month + 1 + int(gap), manager["team"])
    return rows, reps, managers, plans


def manager_events(managers: pd.DataFrame) -> pd.DataFrame:
    """Manager exits whose 3-month baseline and 6-month aftermath fit in months 1-36.

    These are the exits the notebook's event study uses: last month ``e`` with
    ``EVENT_BEFORE <= e <= N_MONTHS - EVENT_AFTER``.
    """
    last = managers["last_month"]
    return managers[last.notna() & (last >= EVENT_BEFORE) & (last <= N_MONTHS - EVENT_AFTER)]


@lru_cache(maxsize=16)
def _simulate_cached(seed: int, reps_per_division: int) -> Simulation:
    # Redraw (a derived stream) in the rare case the firm has too few manager exits for the
    # notebook's event study; most seeds keep their first draw.
    for attempt in range(1000):
        sim = _draw(np.random.default_rng(seed if attempt == 0 else [seed, attempt]), reps_per_division)
        if len(manager_events(sim.managers)) >= MIN_MANAGER_EVENTS:
            return sim
    raise RuntimeError(f"seed {seed}: no draw with {MIN_MANAGER_EVENTS} manager exits")  # pragma: no cover


def _draw(rng: np.random.Generator, reps_per_division: int) -> Simulation:
    sw_lines, sw_leads = _switching_log(rng)
    focus = {
        "stable": ([STABLE_FOCUS[0]] * N_MONTHS, [STABLE_FOCUS[1]] * N_MONTHS),
        "switching": (sw_lines, sw_leads),
    }
    rows: list[tuple] = []
    reps: list[dict] = []
    managers: list[dict] = []
    plan_rows: list[tuple] = []
    for division in DIVISIONS:
        div_rows, div_reps, div_managers, div_plans = _simulate_division(
            rng, division, *focus[division], reps_per_division)
        rows += div_rows
        reps += div_reps
        managers += div_managers
        plan_rows += [(m + 1, division, system, div_plans[system][m])
                      for system in PLAN_SYSTEMS for m in range(N_MONTHS)]
    sales = pd.DataFrame(rows, columns=["month", "division", "rep_id", "line", "product", "sales_kyuan"])
    log = pd.DataFrame(
        [(m + 1, d, focus[d][0][m], focus[d][1][m]) for d in DIVISIONS for m in range(N_MONTHS)],
        columns=["month", "division", "focus_line", "lead_product"],
    )
    roster = pd.DataFrame(reps)
    roster["exit_month"] = roster["exit_month"].astype("Int64")
    roster = roster[["rep_id", "division", "team", "hire_month", "exit_month", "potential_kyuan"]]
    mgr = pd.DataFrame(managers)
    mgr["last_month"] = mgr["last_month"].astype("Int64")
    mgr = mgr.sort_values(["division", "team", "first_month"], ignore_index=True)
    plans = (pd.DataFrame(plan_rows, columns=["month", "division", "system", "line"])
             .sort_values(["division", "month", "system"], ignore_index=True))
    return Simulation(sales=sales, strategy_log=log, roster=roster, managers=mgr, plans=plans)


def simulate(seed: int | None = None, *, reps_per_division: int = REPS_PER_DIVISION) -> Simulation:
    """All five tables for one seed (``None`` = :data:`DEFAULT_SEED`); fresh copies."""
    sim = _simulate_cached(DEFAULT_SEED if seed is None else int(seed), int(reps_per_division))
    return Simulation(*(frame.copy() for frame in (sim.sales, sim.strategy_log, sim.roster,
                                                   sim.managers, sim.plans)))


def load_sales(seed: int | None = None) -> pd.DataFrame:
    """Monthly sales per rep and product: ``month`` (1-36), ``division``, ``rep_id``, ``line``
    (OTC/Rx), ``product`` (e.g. "OTC capsule"), ``sales_kyuan`` (thousand yuan)."""
    return simulate(seed).sales


def load_strategy_log(seed: int | None = None) -> pd.DataFrame:
    """One row per month and division: ``month``, ``division``, ``focus_line`` (OTC/Rx) and
    ``lead_product`` (one of :data:`PRODUCTS`) in force that month."""
    return simulate(seed).strategy_log


def load_roster(seed: int | None = None) -> pd.DataFrame:
    """One row per rep: ``rep_id``, ``division``, ``team`` (1-10 within the division),
    ``hire_month`` (first month worked; 0 or negative = hired before month 1), ``exit_month``
    (last month worked; <NA> = still employed after month 36) and ``potential_kyuan`` (sales at
    full productivity in a team that has lost no manager, thousand yuan/month)."""
    return simulate(seed).roster


def load_managers(seed: int | None = None) -> pd.DataFrame:
    """One row per team manager: ``manager_id``, ``division``, ``team``, ``first_month`` (first
    month in post; 0 or negative = before month 1) and ``last_month`` (last month in post; <NA> =
    still in post after month 36). A post can stay vacant for a few months between managers."""
    return simulate(seed).managers


def load_plans(seed: int | None = None) -> pd.DataFrame:
    """One row per month, division and plan: ``month``, ``division``, ``system`` (one of
    :data:`PLAN_SYSTEMS`) and ``line``, the product line (OTC/Rx) that plan favours that month."""
    return simulate(seed).plans
