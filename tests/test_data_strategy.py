"""Case 01 data (course.data.strategy): tables, seeds and the calibration targets of the brief.

Targets: after a switch the division's reps work at RAMP_START (~50%) of full productivity in the
first month and climb back to 100% over RAMP_MONTHS months; the monthly exit probability is
BASE_HAZARD * HAZARD_RATIO_PER_SWITCH ** (switches in the trailing 12 months), so attrition is
higher in the switching division. Expected values are computed here from the module's documented
constants (independently of the generator's code), never pasted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from course.data import strategy

SEEDS = [None, 1, 2, 3]


def _switch_months(log: pd.DataFrame, division: str = "switching") -> list[int]:
    part = log[log["division"] == division].sort_values("month")
    prev = part.shift()
    changed = (part["focus_line"] != prev["focus_line"]) | (part["lead_product"] != prev["lead_product"])
    changed.iloc[0] = False
    return part.loc[changed, "month"].astype(int).tolist()


def _rep_months(seed) -> pd.DataFrame:
    """Per rep and month: total sales, productivity ratio (sales / potential), tenure."""
    sales = strategy.load_sales(seed)
    roster = strategy.load_roster(seed).set_index("rep_id")
    tot = sales.groupby(["division", "month", "rep_id"], as_index=False)["sales_kyuan"].sum()
    tot["ratio"] = tot["sales_kyuan"] / tot["rep_id"].map(roster["potential_kyuan"])
    tot["tenure"] = tot["month"] - tot["rep_id"].map(roster["hire_month"])
    return tot


def _expected_ramp(j: int) -> float:
    """The documented learning curve, written out: start, then equal steps to 1."""
    step = (1 - strategy.RAMP_START) / strategy.RAMP_MONTHS
    return min(1.0, strategy.RAMP_START + step * j)


def _active_and_exits(roster: pd.DataFrame, division: str) -> tuple[np.ndarray, np.ndarray]:
    part = roster[roster["division"] == division]
    hire = part["hire_month"].to_numpy()
    leave = part["exit_month"].astype("float").fillna(np.inf).to_numpy()
    months = np.arange(1, strategy.N_MONTHS + 1)[:, None]
    active = ((hire <= months) & (leave >= months)).sum(axis=1)
    exits = (leave == months).sum(axis=1)
    return active, exits


# ----------------------------------------------------------------------------------------------
# Shapes, columns, seeds
# ----------------------------------------------------------------------------------------------


def test_tables_have_documented_columns():
    assert list(strategy.load_sales().columns) == ["month", "division", "rep_id", "line", "product", "sales_kyuan"]
    assert list(strategy.load_strategy_log().columns) == ["month", "division", "focus_line", "lead_product"]
    assert list(strategy.load_roster().columns) == ["rep_id", "division", "hire_month", "exit_month", "potential_kyuan"]


@pytest.mark.parametrize("seed", SEEDS)
def test_sales_rows_match_roster(seed):
    """Every active rep-month has one row per product; nobody sells outside employment."""
    sales, roster = strategy.load_sales(seed), strategy.load_roster(seed)
    assert sales["month"].between(1, strategy.N_MONTHS).all()
    assert (sales["sales_kyuan"] >= 0).all()
    assert set(sales["product"]) == set(strategy.PRODUCTS)
    assert (sales["product"].str.split(" ").str[0] == sales["line"]).all()
    n_products = len(strategy.PRODUCTS)
    for division in strategy.DIVISIONS:
        active, _ = _active_and_exits(roster, division)
        rows = sales[sales["division"] == division].groupby("month").size().reindex(range(1, 37), fill_value=0)
        assert (rows.to_numpy() == active * n_products).all()
    assert roster["rep_id"].is_unique
    initial = roster[roster["hire_month"] <= 0].groupby("division").size()
    assert (initial == strategy.REPS_PER_DIVISION).all()


def test_same_seed_same_data_and_seeds_differ():
    for loader in (strategy.load_sales, strategy.load_strategy_log, strategy.load_roster):
        assert loader(7).equals(loader(7))
        assert loader(None).equals(loader(strategy.DEFAULT_SEED))
    assert not strategy.load_sales(7).equals(strategy.load_sales(8))
    assert not strategy.load_sales(None).equals(strategy.load_sales(7))


def test_loaders_return_copies():
    sales = strategy.load_sales()
    sales.loc[0, "sales_kyuan"] = -1.0
    assert strategy.load_sales().loc[0, "sales_kyuan"] >= 0


# ----------------------------------------------------------------------------------------------
# Strategy log
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS + [11, 12, 13])
def test_strategy_log_follows_the_meeting_calendar(seed):
    log = strategy.load_strategy_log(seed)
    assert len(log) == strategy.N_MONTHS * len(strategy.DIVISIONS)
    assert _switch_months(log, "stable") == []
    stable = log[log["division"] == "stable"]
    assert set(zip(stable["focus_line"], stable["lead_product"], strict=True)) == {strategy.STABLE_FOCUS}
    switches = _switch_months(log)
    assert len(switches) >= strategy.MIN_SWITCHES
    quarter_starts = set(range(4, 37, 3))  # months 4, 7, ..., 34
    assert set(switches) <= quarter_starts
    sw = log[log["division"] == "switching"].set_index("month")
    assert (sw["lead_product"].str.split(" ").str[0] == sw["focus_line"]).all()
    line_flips = [m for m in range(2, 37) if sw.loc[m, "focus_line"] != sw.loc[m - 1, "focus_line"]]
    assert set(line_flips) <= set(range(7, 37, 6))  # half-year starts only


# ----------------------------------------------------------------------------------------------
# Calibration: the learning-curve ramp
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_first_month_after_a_switch_is_about_half_productivity(seed):
    """Mean sales / potential of tenured reps in the first month after a switch ~= RAMP_START."""
    assert strategy.RAMP_START == pytest.approx(0.5)  # the brief's "~50%"
    reps = _rep_months(seed)
    switches = _switch_months(strategy.load_strategy_log(seed))
    sel = reps[(reps["division"] == "switching") & reps["month"].isin(switches)
               & (reps["tenure"] >= strategy.RAMP_MONTHS)]
    # noise is mean-one lognormal: se of the mean = RAMP_START * sd / sqrt(n)
    sd = math.sqrt(math.exp(strategy.NOISE_SIGMA**2) - 1)
    tol = 4 * strategy.RAMP_START * sd / math.sqrt(len(sel))
    assert len(sel) > 100
    assert sel["ratio"].mean() == pytest.approx(strategy.RAMP_START, abs=tol)


@pytest.mark.parametrize("seed", SEEDS)
def test_ramp_back_to_full_productivity(seed):
    """Month j after a switch (no newer switch yet) follows the documented straight-line ramp."""
    reps = _rep_months(seed)
    switches = _switch_months(strategy.load_strategy_log(seed))
    sw = reps[(reps["division"] == "switching") & (reps["tenure"] >= strategy.RAMP_MONTHS)]
    for j in range(strategy.RAMP_MONTHS + 1):
        months = [s + j for s in switches
                  if s + j <= strategy.N_MONTHS and not any(s < t <= s + j for t in switches)]
        got = sw[sw["month"].isin(months)]["ratio"]
        if len(got) < 30:
            continue
        assert got.mean() == pytest.approx(_expected_ramp(j), abs=0.04), j
    assert _expected_ramp(strategy.RAMP_MONTHS) == 1.0
    assert _expected_ramp(strategy.RAMP_MONTHS - 1) < 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_stable_division_works_at_full_productivity(seed):
    reps = _rep_months(seed)
    st = reps[(reps["division"] == "stable") & (reps["tenure"] >= strategy.RAMP_MONTHS)]
    assert st["ratio"].mean() == pytest.approx(1.0, abs=0.02)


def test_new_hires_ramp_up():
    reps = _rep_months(None)
    st = reps[reps["division"] == "stable"]
    first = st[st["tenure"] == 0]["ratio"]
    assert len(first) >= 5
    assert first.mean() == pytest.approx(strategy.RAMP_START, abs=0.1)


# ----------------------------------------------------------------------------------------------
# Calibration: attrition rises with switches
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS + [4, 5])
def test_attrition_higher_in_switching_division(seed):
    roster = strategy.load_roster(seed)
    rates = {}
    for division in strategy.DIVISIONS:
        active, exits = _active_and_exits(roster, division)
        rates[division] = exits.sum() / active.sum()
    assert rates["switching"] > rates["stable"]
    # the stable division never switches: its pooled rate is the base hazard (4 binomial se)
    n = _active_and_exits(roster, "stable")[0].sum()
    h0 = strategy.BASE_HAZARD
    assert rates["stable"] == pytest.approx(h0, abs=4 * math.sqrt(h0 * (1 - h0) / n))


def test_hazard_model_by_trailing_switches():
    """Pooled over seeds with big teams, exits / rep-months at each n12 ~= BASE * RATIO ** n12."""
    exits: dict[int, int] = {}
    exposure: dict[int, int] = {}
    for seed in range(4):
        sim = strategy.simulate(seed, reps_per_division=250)
        switches = _switch_months(sim.strategy_log)
        for division in strategy.DIVISIONS:
            active, ex = _active_and_exits(sim.roster, division)
            for month in range(1, strategy.N_MONTHS + 1):
                n12 = sum(1 for s in switches if month - 11 <= s <= month) if division == "switching" else 0
                exits[n12] = exits.get(n12, 0) + int(ex[month - 1])
                exposure[n12] = exposure.get(n12, 0) + int(active[month - 1])
    for n12, n in exposure.items():
        h = strategy.BASE_HAZARD * strategy.HAZARD_RATIO_PER_SWITCH**n12
        assert exits[n12] / n == pytest.approx(h, abs=4 * math.sqrt(h * (1 - h) / n)), n12
    assert max(exposure) >= 3
    low, high = exits[0] / exposure[0], exits[max(exposure)] / exposure[max(exposure)]
    assert high > low


def test_turnover_correlates_with_trailing_switches():
    roster = strategy.load_roster()
    switches = _switch_months(strategy.load_strategy_log())
    rates, n12s = [], []
    for division in strategy.DIVISIONS:
        active, ex = _active_and_exits(roster, division)
        for month in range(1, strategy.N_MONTHS + 1):
            rates.append(ex[month - 1] / active[month - 1])
            n12s.append(sum(1 for s in switches if month - 11 <= s <= month) if division == "switching" else 0)
    assert np.corrcoef(rates, n12s)[0, 1] > 0.2


# ----------------------------------------------------------------------------------------------
# Other documented constants
# ----------------------------------------------------------------------------------------------


def test_product_mix_and_potential():
    sales = strategy.load_sales()
    log = strategy.load_strategy_log()
    merged = sales.merge(log, on=["month", "division"])
    rep_total = merged.groupby(["month", "rep_id"])["sales_kyuan"].transform("sum")
    lead = merged[merged["product"] == merged["lead_product"]]
    share = (lead["sales_kyuan"] / rep_total[lead.index]).mean()
    assert share == pytest.approx(strategy.MIX_LEAD, abs=0.02)
    assert strategy.MIX_LEAD + strategy.MIX_FOCUS_OTHER + 2 * strategy.MIX_OTHER_LINE == pytest.approx(1.0)
    pot = strategy.load_roster()["potential_kyuan"]
    sd = strategy.POTENTIAL_MEAN_KYUAN * math.sqrt(math.exp(strategy.POTENTIAL_SIGMA**2) - 1)
    assert pot.mean() == pytest.approx(strategy.POTENTIAL_MEAN_KYUAN, abs=4 * sd / math.sqrt(len(pot)))
