"""Case 03 data: the IBM attrition loader and the firm-K roster generator's calibration.

Expected values are derived: the generator's targets from its named constants, tolerances from
binomial standard errors of the pooled rates; the real data's figures from the brief's
measurement (rounded to 0.1 percentage points there).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from course.data import pharma_hr as ph
from course.data.real import rdataset

SEEDS = [None, 1, 2, 3, 12345, 2**31 - 1]
#: Standard errors allowed between a simulated pooled rate and its target.
Z = 4.0

# Figures the brief reports for the published data (percent, rounded to one decimal).
BRIEF_DEPARTMENT_ATTRITION_PCT = {"Sales": 20.6, "Human_Resources": 19.0, "Research_Development": 13.8}
BRIEF_OVERALL_ATTRITION_PCT = 16.1


# --------------------------------------------------------------------------------------------
# IBM attrition data (real, fictional by design)
# --------------------------------------------------------------------------------------------


def test_attrition_default_is_the_published_table():
    frame = ph.load_attrition()
    published = rdataset(*ph.ATTRITION_SOURCE)
    assert frame.shape == (1470, 31)
    pd.testing.assert_frame_equal(frame, published)
    assert set(frame["Attrition"]) == {"Yes", "No"}


def test_attrition_matches_the_briefs_measurement():
    frame = ph.load_attrition()
    left = frame["Attrition"].eq("Yes")
    assert round(100 * left.mean(), 1) == BRIEF_OVERALL_ATTRITION_PCT
    by_dept = left.groupby(frame["Department"]).mean()
    for dept, pct in BRIEF_DEPARTMENT_ATTRITION_PCT.items():
        assert round(100 * by_dept[dept], 1) == pct


def test_attrition_variants_are_real_subsets_and_deterministic():
    published = ph.load_attrition()
    keys = set(map(tuple, published.astype(str).to_numpy()))
    a = ph.load_attrition(seed=7)
    assert len(a) == round(ph.VARIANT_FRACTION * len(published))
    assert set(map(tuple, a.astype(str).to_numpy())) <= keys
    pd.testing.assert_frame_equal(a, ph.load_attrition(seed=7))
    assert not a.equals(ph.load_attrition(seed=8))


@pytest.mark.parametrize("seed", [None, *range(1, 60)])
def test_attrition_notebook_answers_are_defined_for_variants(seed):
    """Within-role income quartiles exist and every role has both overtime/travel groups."""
    frame = ph.load_attrition(seed=seed)
    for _, group in frame.groupby("JobRole"):
        edges = np.quantile(group["MonthlyIncome"].to_numpy(dtype=float), [0, 0.25, 0.5, 0.75, 1])
        assert np.all(np.diff(edges) > 0)
        assert group["OverTime"].nunique() == 2
        assert group["BusinessTravel"].eq("Travel_Frequently").any()
        assert not group["BusinessTravel"].eq("Travel_Frequently").all()


# --------------------------------------------------------------------------------------------
# Firm K roster (simulated)
# --------------------------------------------------------------------------------------------


def _pooled(roster: pd.DataFrame, line: str, first: int, last: int) -> tuple[int, int]:
    """(exits, employee-months) of ``line`` in months first..last, by explicit month loop."""
    part = roster[roster["line"] == line]
    start = np.maximum(part["hire_month"].to_numpy(), 1)
    end = part["last_month"].to_numpy()
    left = part["left"].to_numpy()
    exits = months = 0
    for month in range(first, last + 1):
        months += int(((start <= month) & (end >= month)).sum())
        exits += int((left & (end == month)).sum())
    return exits, months


PRE = (1, ph.SWITCH_MONTH - 1)
POST = (ph.SWITCH_MONTH, ph.N_MONTHS)


def test_roster_shape_and_columns():
    roster = ph.load_firm_k_roster()
    assert list(roster.columns) == ["employee_id", "line", "hire_month", "last_month", "left"]
    assert roster["employee_id"].is_unique
    assert set(roster["line"]) == set(ph.LINES)
    assert roster["last_month"].between(1, ph.N_MONTHS).all()
    assert (roster["hire_month"] <= roster["last_month"]).all()
    assert roster["hire_month"].max() <= ph.N_MONTHS
    assert not roster.loc[~roster["left"], "last_month"].ne(ph.N_MONTHS).any()
    assert roster["left"].dtype == bool


@pytest.mark.parametrize("seed", SEEDS)
def test_roster_headcount_and_replacement(seed):
    roster = ph.load_firm_k_roster(seed)
    for line in ph.LINES:
        part = roster[roster["line"] == line]
        # Everyone on the payroll in month 1 was hired before the window.
        assert (part["hire_month"] <= 0).sum() == ph.HEADCOUNT[line]
        # Each leaver in months 1..N-1 is replaced by exactly one hire the next month.
        leavers = part.loc[part["left"] & (part["last_month"] < ph.N_MONTHS), "last_month"] + 1
        hires = part.loc[part["hire_month"] >= 1, "hire_month"]
        assert sorted(leavers) == sorted(hires)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", ["pre", "post"])
def test_roster_rates_match_generator_targets(seed, period):
    roster = ph.load_firm_k_roster(seed)
    first, last = PRE if period == "pre" else POST
    for line in ph.LINES:
        target = ph.UNIFORM_PLAN_ATTRITION[line]
        if period == "post":
            target += ph.COMMON_SHIFT + (ph.OTC_PLAN_EFFECT if line == "OTC" else 0.0)
        assert math.isclose(target, ph.monthly_attrition_probability(line, last))
        exits, months = _pooled(roster, line, first, last)
        se = math.sqrt(target * (1 - target) / months)
        assert abs(exits / months - target) < Z * se, (seed, period, line, exits / months, target)


@pytest.mark.parametrize("seed", SEEDS)
def test_diff_in_diff_recovers_the_otc_effect(seed):
    roster = ph.load_firm_k_roster(seed)
    others = [line for line in ph.LINES if line != "OTC"]
    rates, variances = {}, {}
    for group, lines in (("otc", ["OTC"]), ("ctrl", others)):
        for period, (first, last) in (("pre", PRE), ("post", POST)):
            counts = [_pooled(roster, line, first, last) for line in lines]
            exits = sum(c[0] for c in counts)
            months = sum(c[1] for c in counts)
            rate = exits / months
            rates[group, period] = rate
            variances[group, period] = rate * (1 - rate) / months
    did = (rates["otc", "post"] - rates["otc", "pre"]) - (rates["ctrl", "post"] - rates["ctrl", "pre"])
    se = math.sqrt(sum(variances.values()))
    assert abs(did - ph.OTC_PLAN_EFFECT) < Z * se
    # The effect is large enough to be seen: the DiD is negative for every seed tested.
    assert did < 0


def test_roster_deterministic_per_seed_and_seeds_differ():
    pd.testing.assert_frame_equal(ph.load_firm_k_roster(5), ph.load_firm_k_roster(5))
    pd.testing.assert_frame_equal(ph.load_firm_k_roster(), ph.load_firm_k_roster(ph.DEFAULT_SEED))
    assert not ph.load_firm_k_roster(5).equals(ph.load_firm_k_roster(6))
    assert not ph.load_firm_k_roster().equals(ph.load_firm_k_roster(1))


def test_roster_loader_returns_a_copy():
    first = ph.load_firm_k_roster(11)
    first.loc[:, "left"] = True
    assert not ph.load_firm_k_roster(11)["left"].all()
