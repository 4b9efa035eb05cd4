"""Case 01 data (course.data.strategy): tables, seeds and the calibration targets of the generator.

Targets, each from the module's documented constants (the brief's "about 50% in the first month
after a switch, back to 100% over k months", "attrition rises with switches"), recomputed here
from the tables by formulas written out in this file, never by calling the generator's helpers:

- a rep's monthly sales = potential x min(switch ramp, hire ramp) x team accounts x noise, where
  the ramp is RAMP_START rising in equal steps to 1 over RAMP_MONTHS, the team accounts factor is
  (1 - ACCOUNT_LOSS) ** (managers the team has lost) and the noise is mean-one lognormal;
- exits: a rep leaves with monthly probability BASE_HAZARD * HAZARD_RATIO_PER_SWITCH ** n12, a
  manager with MANAGER_BASE_HAZARD * MANAGER_HAZARD_RATIO_PER_SWITCH ** n12;
- the product mix: the focus line's expected share is 0.30 + 0.40 x (share of the three plans
  that favour it), and the plans follow the focus line by PLAN_RULES.

Tolerances are stated where they are set: k standard errors of the estimate, with the standard
error derived from the model (binomial for exit counts, the lognormal noise for sales ratios,
the Dirichlet for mix shares).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from course.data import strategy

SEEDS = [None, 1, 2, 3]
#: Standard errors allowed between an estimate and its target (a 4-se miss has probability
#: about 6e-5 per check under the model, so the suite does not flake).
K_SE = 4
#: sd of the mean-one lognormal noise on a rep-month's sales.
NOISE_SD = math.sqrt(math.exp(strategy.NOISE_SIGMA**2) - 1)


def _switch_months(log: pd.DataFrame, division: str = "switching") -> list[int]:
    part = log[log["division"] == division].sort_values("month")
    prev = part.shift()
    changed = (part["focus_line"] != prev["focus_line"]) | (part["lead_product"] != prev["lead_product"])
    changed.iloc[0] = False
    return part.loc[changed, "month"].astype(int).tolist()


def _n12(switches: list[int], month: int) -> int:
    return sum(1 for s in switches if month - 11 <= s <= month)


def _expected_ramp(j: float) -> float:
    """The documented learning curve, written out: start, then equal steps to 1."""
    step = (1 - strategy.RAMP_START) / strategy.RAMP_MONTHS
    return min(1.0, strategy.RAMP_START + step * j)


def _managers_lost(managers: pd.DataFrame) -> dict[tuple[str, int, int], int]:
    """(division, team, month) -> managers the team lost before that month."""
    lost: dict[tuple[str, int, int], int] = {}
    exits = managers.dropna(subset=["last_month"])
    for division in strategy.DIVISIONS:
        for team in managers.loc[managers["division"] == division, "team"].unique():
            last = exits.loc[(exits["division"] == division) & (exits["team"] == team), "last_month"].to_numpy(int)
            for month in range(1, strategy.N_MONTHS + 1):
                lost[(division, int(team), month)] = int((last < month).sum())
    return lost


def _rep_months(sim: strategy.Simulation) -> pd.DataFrame:
    """Per rep and month: sales, the documented expected multiplier and the ratio to it."""
    roster = sim.roster.set_index("rep_id")
    tot = sim.sales.groupby(["division", "month", "rep_id"], as_index=False)["sales_kyuan"].sum()
    tot["team"] = tot["rep_id"].map(roster["team"])
    tot["tenure"] = tot["month"] - tot["rep_id"].map(roster["hire_month"])
    switches = {d: _switch_months(sim.strategy_log, d) for d in strategy.DIVISIONS}
    since = [month - max([s for s in switches[d] if s <= month], default=-10**6)
             for d, month in zip(tot["division"], tot["month"], strict=True)]
    lost = _managers_lost(sim.managers)
    tot["since_switch"] = since
    tot["lost"] = [lost[(d, int(t), int(m))] for d, t, m in zip(tot["division"], tot["team"], tot["month"], strict=True)]
    ramp = [min(_expected_ramp(s), _expected_ramp(t)) for s, t in zip(tot["since_switch"], tot["tenure"], strict=True)]
    tot["expected"] = (tot["rep_id"].map(roster["potential_kyuan"]) * np.array(ramp)
                       * (1 - strategy.ACCOUNT_LOSS) ** tot["lost"])
    tot["ratio"] = tot["sales_kyuan"] / tot["expected"]
    tot["ratio_to_potential"] = tot["sales_kyuan"] / tot["rep_id"].map(roster["potential_kyuan"])
    return tot


def _active_and_exits(roster: pd.DataFrame, division: str, first: str = "hire_month",
                      last: str = "exit_month") -> tuple[np.ndarray, np.ndarray]:
    part = roster[roster["division"] == division]
    start = part[first].to_numpy()
    leave = part[last].astype("float").fillna(np.inf).to_numpy()
    months = np.arange(1, strategy.N_MONTHS + 1)[:, None]
    active = ((start <= months) & (leave >= months)).sum(axis=1)
    exits = (leave == months).sum(axis=1)
    return active, exits


@pytest.fixture(scope="module")
def big() -> list[strategy.Simulation]:
    """Four firms with 250 reps (50 teams) per division: enough exposure for tight checks."""
    return [strategy.simulate(seed, reps_per_division=250) for seed in range(4)]


# ----------------------------------------------------------------------------------------------
# Shapes, columns, seeds
# ----------------------------------------------------------------------------------------------


def test_tables_have_documented_columns():
    assert list(strategy.load_sales().columns) == ["month", "division", "rep_id", "line", "product", "sales_kyuan"]
    assert list(strategy.load_strategy_log().columns) == ["month", "division", "focus_line", "lead_product"]
    assert list(strategy.load_roster().columns) == ["rep_id", "division", "team", "hire_month", "exit_month",
                                                    "potential_kyuan"]
    assert list(strategy.load_managers().columns) == ["manager_id", "division", "team", "first_month", "last_month"]
    assert list(strategy.load_plans().columns) == ["month", "division", "system", "line"]


@pytest.mark.parametrize("seed", SEEDS)
def test_sales_rows_match_roster_and_teams(seed):
    """Every active rep-month has one row per product; nobody sells outside employment; teams
    start with REPS_PER_TEAM reps and a replacement joins the leaver's team."""
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
    initial = roster[roster["hire_month"] <= 0]
    assert (initial.groupby("division").size() == strategy.REPS_PER_DIVISION).all()
    assert (initial.groupby(["division", "team"]).size() == strategy.REPS_PER_TEAM).all()
    for rep in roster[roster["hire_month"] > 0].itertuples():
        left = roster[(roster["division"] == rep.division) & (roster["team"] == rep.team)
                      & (roster["exit_month"] == rep.hire_month - strategy.HIRE_LAG_MONTHS)]
        assert len(left) >= 1, rep.rep_id


_DIGEST = """
import hashlib, json, sys
import pandas as pd
from course.data import strategy
out = {}
for seed in json.loads(sys.argv[1]):
    sim = strategy.simulate(seed)
    for name in ("sales", "strategy_log", "roster", "managers", "plans"):
        frame = getattr(sim, name)
        h = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        h.update(repr(list(frame.columns)).encode() + repr(list(map(str, frame.dtypes))).encode())
        out[f"{seed}/{name}"] = h.hexdigest()
print(json.dumps(out))
"""


def _digests(seeds: list) -> dict[str, str]:
    """Digests of every table, computed in a fresh Python process (no shared cache)."""
    proc = subprocess.run([sys.executable, "-c", _DIGEST, json.dumps(seeds)], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout)


def test_same_seed_same_data_across_processes_and_seeds_differ():
    """Two fresh processes build identical tables from a seed (and None = DEFAULT_SEED);
    different seeds give different tables."""
    seeds = [None, strategy.DEFAULT_SEED, 7, 8]
    first, second = _digests(seeds), _digests(list(reversed(seeds)))
    assert first == second
    for name in ("sales", "strategy_log", "roster", "managers", "plans"):
        assert first[f"None/{name}"] == first[f"{strategy.DEFAULT_SEED}/{name}"]
        assert first[f"7/{name}"] != first[f"8/{name}"], name   # seeds 7 and 8 have different logs
        assert first[f"7/{name}"] != first[f"None/{name}"], name


def test_loaders_return_copies():
    sales = strategy.load_sales()
    sales.loc[0, "sales_kyuan"] = -1.0
    assert strategy.load_sales().loc[0, "sales_kyuan"] >= 0
    managers = strategy.load_managers()
    managers.loc[0, "team"] = 99
    assert strategy.load_managers().loc[0, "team"] != 99


# ----------------------------------------------------------------------------------------------
# Strategy log and plans
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


@pytest.mark.parametrize("seed", SEEDS)
def test_plans_follow_the_focus_line_by_the_documented_rules(seed):
    """Incentive plan: the focus of the last reset month (1, 13, 25); call plan: the focus of 2
    months earlier; budget: of 3 months earlier (month 1's focus before that). Stable: Rx."""
    log = strategy.load_strategy_log(seed)
    plans = strategy.load_plans(seed)
    assert len(plans) == strategy.N_MONTHS * len(strategy.DIVISIONS) * 3
    got = plans.set_index(["division", "month", "system"])["line"]
    for division in strategy.DIVISIONS:
        focus = log[log["division"] == division].set_index("month")["focus_line"]
        for m in range(1, 37):
            want = {"incentive plan": focus[max(r for r in (1, 13, 25) if r <= m)],
                    "call plan": focus[max(m - 2, 1)],
                    "targets and budget": focus[max(m - 3, 1)]}
            for system, line in want.items():
                assert got[(division, m, system)] == line, (division, m, system)
    assert (plans.loc[plans["division"] == "stable", "line"] == strategy.STABLE_FOCUS[0]).all()


# ----------------------------------------------------------------------------------------------
# Calibration: sales = potential x ramp x team accounts x noise
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_first_month_after_a_switch_is_about_half_productivity(seed):
    """Tenured reps in a switch month sell RAMP_START (the brief's ~50%) of potential x accounts."""
    assert strategy.RAMP_START == pytest.approx(0.5)  # the brief's "~50%"
    reps = _rep_months(strategy.simulate(seed))
    sel = reps[(reps["division"] == "switching") & (reps["since_switch"] == 0)
               & (reps["tenure"] >= strategy.RAMP_MONTHS)]
    assert len(sel) > 100
    productivity = sel["sales_kyuan"] / (sel["expected"] / strategy.RAMP_START)
    # mean-one noise: the mean of n ratios has se RAMP_START * NOISE_SD / sqrt(n)
    tol = K_SE * strategy.RAMP_START * NOISE_SD / math.sqrt(len(sel))
    assert productivity.mean() == pytest.approx(strategy.RAMP_START, abs=tol)


def test_ramp_back_to_full_productivity(big):
    """Month j after a switch (no newer switch, tenured reps) sells ramp(j) of potential x
    accounts, for every j = 0 .. RAMP_MONTHS; pooled over four big firms, each j has data."""
    reps = pd.concat([_rep_months(sim) for sim in big], ignore_index=True)
    sw = reps[(reps["division"] == "switching") & (reps["tenure"] >= strategy.RAMP_MONTHS)]
    for j in range(strategy.RAMP_MONTHS + 1):
        got = sw[sw["since_switch"] == j]
        assert len(got) >= 200, f"j={j}: only {len(got)} rep-months to check"
        level = got["sales_kyuan"] / (got["expected"] / _expected_ramp(j))
        tol = K_SE * _expected_ramp(j) * NOISE_SD / math.sqrt(len(got))
        assert level.mean() == pytest.approx(_expected_ramp(j), abs=tol), j
    assert _expected_ramp(strategy.RAMP_MONTHS) == 1.0
    assert _expected_ramp(strategy.RAMP_MONTHS - 1) < 1.0


def test_every_rep_month_follows_the_documented_formula(big):
    """sales / (potential x ramp x accounts) is the mean-one lognormal noise: mean 1 and sd
    NOISE_SD, in both divisions, whatever the tenure and however many managers were lost."""
    reps = pd.concat([_rep_months(sim) for sim in big], ignore_index=True)
    cells = reps.groupby(["division", reps["lost"].clip(upper=2)])["ratio"].agg(["mean", "size"])
    # every (division, managers lost) cell with data is checked; these four must have data
    assert {("stable", 0), ("stable", 1), ("switching", 0), ("switching", 1), ("switching", 2)} <= set(cells.index)
    for cell, (mean, n) in cells.iterrows():
        assert mean == pytest.approx(1.0, abs=K_SE * NOISE_SD / math.sqrt(n)), cell
    # the sd of the noise: se of a sample sd is about sd * sqrt((kurtosis - 1) / (4 n)); the
    # lognormal's excess kurtosis at sigma = 0.1 is about 0.5, so (kurtosis - 1) / 4 < 1
    sd = reps["ratio"].std()
    assert sd == pytest.approx(NOISE_SD, abs=K_SE * NOISE_SD / math.sqrt(len(reps)))


def test_a_lost_manager_lowers_the_team_for_good(big):
    """The team's sales per unit of (potential x ramp) fall by ACCOUNT_LOSS per manager lost,
    and do not recover with time since the exit (log-slope vs managers lost ~= log(1 - loss))."""
    reps = pd.concat([_rep_months(sim) for sim in big], ignore_index=True)
    base = reps["sales_kyuan"] / (reps["expected"] / (1 - strategy.ACCOUNT_LOSS) ** reps["lost"])
    y, x = np.log(base.to_numpy()), reps["lost"].to_numpy(float)
    slope = np.polyfit(x, y, 1)[0]
    # OLS slope se = sd(log noise) / (sd(x) sqrt(n)); log noise has sd NOISE_SIGMA
    se = strategy.NOISE_SIGMA / (x.std() * math.sqrt(len(x)))
    assert slope == pytest.approx(math.log(1 - strategy.ACCOUNT_LOSS), abs=K_SE * se)
    assert reps["lost"].max() >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_stable_division_works_at_full_productivity(seed):
    """Tenured stable-division reps sell their potential x accounts (no switch, ever)."""
    reps = _rep_months(strategy.simulate(seed))
    st = reps[(reps["division"] == "stable") & (reps["tenure"] >= strategy.RAMP_MONTHS)]
    assert (st["since_switch"] > 10**5).all()
    level = st["sales_kyuan"] / st["expected"]
    assert level.mean() == pytest.approx(1.0, abs=K_SE * NOISE_SD / math.sqrt(len(st)))


def test_new_hires_ramp_up(big):
    """A stable-division rep in the hire month sells RAMP_START of potential x accounts."""
    reps = pd.concat([_rep_months(sim) for sim in big], ignore_index=True)
    first = reps[(reps["division"] == "stable") & (reps["tenure"] == 0)]
    assert len(first) >= 30
    level = first["sales_kyuan"] / (first["expected"] / strategy.RAMP_START)
    tol = K_SE * strategy.RAMP_START * NOISE_SD / math.sqrt(len(first))
    assert level.mean() == pytest.approx(strategy.RAMP_START, abs=tol)


# ----------------------------------------------------------------------------------------------
# Calibration: product mix and plan alignment
# ----------------------------------------------------------------------------------------------


def test_focus_share_follows_plan_alignment(big):
    """Per rep-month, the focus line's share of sales averages 0.30 + 0.40 x (aligned plans / 3);
    within the focus line the lead product takes MIX_LEAD / (MIX_LEAD + MIX_FOCUS_OTHER)."""
    assert strategy.MIX_LEAD + strategy.MIX_FOCUS_OTHER + 2 * strategy.MIX_OTHER_LINE == pytest.approx(1.0)
    aligned_all = strategy.MIX_LEAD + strategy.MIX_FOCUS_OTHER  # 0.70 when every plan agrees
    lead_within = strategy.MIX_LEAD / aligned_all
    concentration = strategy.MIX_CONCENTRATION  # Dirichlet alphas = expected mix x this (sum)
    checked = set()
    for sim in big:
        merged = sim.sales.merge(sim.strategy_log, on=["month", "division"])
        plans = sim.plans.merge(sim.strategy_log, on=["month", "division"])
        n_aligned = (plans["line"] == plans["focus_line"]).groupby([plans["division"], plans["month"]]).sum()
        merged["focus"] = merged["sales_kyuan"].where(merged["line"] == merged["focus_line"], 0.0)
        merged["lead"] = merged["sales_kyuan"].where(merged["product"] == merged["lead_product"], 0.0)
        per_rep = merged.groupby(["division", "month", "rep_id"])[["sales_kyuan", "focus", "lead"]].sum()
        per_rep["n_aligned"] = n_aligned.reindex(per_rep.index.droplevel("rep_id")).to_numpy()
        per_rep = per_rep[per_rep["focus"] > 0]
        for k, part in per_rep.groupby("n_aligned"):
            target = (1 - aligned_all) + (2 * aligned_all - 1) * k / 3
            # a Dirichlet share with mean f has variance f (1 - f) / (concentration + 1)
            se = math.sqrt(target * (1 - target) / (concentration + 1) / len(part))
            assert (part["focus"] / part["sales_kyuan"]).mean() == pytest.approx(target, abs=K_SE * se), k
            # lead / focus line ~ Beta(a, b), a + b = target x concentration: variance
            # lead_within (1 - lead_within) / (a + b + 1)
            se_lead = math.sqrt(lead_within * (1 - lead_within) / (target * concentration + 1) / len(part))
            assert (part["lead"] / part["focus"]).mean() == pytest.approx(lead_within, abs=K_SE * se_lead), k
            checked.add(int(k))
    assert checked == {0, 1, 2, 3}


def test_potential_is_lognormal_with_documented_mean():
    pot = pd.concat([strategy.load_roster(s)["potential_kyuan"] for s in SEEDS])
    sd = strategy.POTENTIAL_MEAN_KYUAN * math.sqrt(math.exp(strategy.POTENTIAL_SIGMA**2) - 1)
    assert pot.mean() == pytest.approx(strategy.POTENTIAL_MEAN_KYUAN, abs=K_SE * sd / math.sqrt(len(pot)))


# ----------------------------------------------------------------------------------------------
# Calibration: attrition of reps and managers rises with switches
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS + [4, 5])
def test_attrition_higher_in_switching_division(seed):
    roster = strategy.load_roster(seed)
    rates = {}
    for division in strategy.DIVISIONS:
        active, exits = _active_and_exits(roster, division)
        rates[division] = exits.sum() / active.sum()
    assert rates["switching"] > rates["stable"]
    # the stable division never switches: its pooled rate is the base hazard (binomial se)
    n = _active_and_exits(roster, "stable")[0].sum()
    h0 = strategy.BASE_HAZARD
    assert rates["stable"] == pytest.approx(h0, abs=K_SE * math.sqrt(h0 * (1 - h0) / n))


@pytest.mark.parametrize("who", ["reps", "managers"])
def test_hazard_model_by_trailing_switches(big, who):
    """Pooled over four big firms, exits / months at risk at each n12 ~= BASE * RATIO ** n12."""
    if who == "reps":
        base, ratio, first, last = strategy.BASE_HAZARD, strategy.HAZARD_RATIO_PER_SWITCH, "hire_month", "exit_month"
    else:
        base, ratio = strategy.MANAGER_BASE_HAZARD, strategy.MANAGER_HAZARD_RATIO_PER_SWITCH
        first, last = "first_month", "last_month"
    exits: dict[int, int] = {}
    exposure: dict[int, int] = {}
    for sim in big:
        table = sim.roster if who == "reps" else sim.managers
        switches = _switch_months(sim.strategy_log)
        for division in strategy.DIVISIONS:
            active, ex = _active_and_exits(table, division, first, last)
            for month in range(1, strategy.N_MONTHS + 1):
                n12 = _n12(switches, month) if division == "switching" else 0
                exits[n12] = exits.get(n12, 0) + int(ex[month - 1])
                exposure[n12] = exposure.get(n12, 0) + int(active[month - 1])
    for n12, n in exposure.items():
        h = base * ratio**n12
        assert exits[n12] / n == pytest.approx(h, abs=K_SE * math.sqrt(h * (1 - h) / n)), n12
    assert max(exposure) >= 3


@pytest.mark.parametrize("seed", SEEDS)
def test_managers_one_per_team_with_short_vacancies(seed):
    """Every team has exactly one manager in post at a time; a post stays vacant 1 to
    MANAGER_MAX_VACANCY months; the firm has at least MIN_MANAGER_EVENTS usable exits."""
    managers = strategy.load_managers(seed)
    assert managers["manager_id"].is_unique
    for (_division, _team), part in managers.groupby(["division", "team"]):
        part = part.sort_values("first_month")
        assert (part["first_month"].iloc[0] <= 0) and part["last_month"].iloc[:-1].notna().all()
        gaps = part["first_month"].to_numpy()[1:] - part["last_month"].to_numpy(float)[:-1] - 1
        assert ((gaps >= 1) & (gaps <= strategy.MANAGER_MAX_VACANCY)).all()
    last = managers["last_month"].dropna()
    usable = last[(last >= strategy.EVENT_BEFORE) & (last <= strategy.N_MONTHS - strategy.EVENT_AFTER)]
    assert len(usable) >= strategy.MIN_MANAGER_EVENTS


def _expected_corr(rates_n_active: list[tuple[float, int, int]]) -> float:
    """Expected Pearson correlation of monthly turnover with n12 under the hazard model.

    With E_t ~ Binomial(A_t, h(n_t)), turnover_t = E_t / A_t has mean h_t and variance
    h_t (1 - h_t) / A_t, so cov(turnover, n) = cov(h, n) and var(turnover) = var(h) + mean of
    h (1 - h) / A over the months.
    """
    n = np.array([x[1] for x in rates_n_active], dtype=float)
    active = np.array([x[2] for x in rates_n_active], dtype=float)
    h = strategy.BASE_HAZARD * strategy.HAZARD_RATIO_PER_SWITCH ** n
    cov = np.mean((h - h.mean()) * (n - n.mean()))
    var_rate = h.var() + np.mean(h * (1 - h) / active)
    return float(cov / math.sqrt(var_rate * n.var()))


def test_turnover_correlates_with_trailing_switches():
    """Across eight seeds, the observed correlation (72 division-months each) matches the
    model's expected correlation: the mean Fisher-z deviation is within K_SE / sqrt(8 (72 - 3))."""
    deviations = []
    for seed in [None, *range(1, 8)]:
        roster = strategy.load_roster(seed)
        switches = _switch_months(strategy.load_strategy_log(seed))
        points = []
        for division in strategy.DIVISIONS:
            active, ex = _active_and_exits(roster, division)
            for month in range(1, strategy.N_MONTHS + 1):
                n12 = _n12(switches, month) if division == "switching" else 0
                points.append((ex[month - 1] / active[month - 1], n12, int(active[month - 1])))
        observed = np.corrcoef([p[0] for p in points], [p[1] for p in points])[0, 1]
        deviations.append(math.atanh(observed) - math.atanh(_expected_corr(points)))
    assert abs(np.mean(deviations)) <= K_SE / math.sqrt(len(deviations) * (72 - 3))
    assert _expected_corr(points) > 0


# ----------------------------------------------------------------------------------------------
# What the notebook relies on
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS + list(range(4, 30)))
def test_notebook_checks_have_room(seed):
    """Question 4's visible checks reject three wrong baseline windows with rel=1e-6; they can
    only do so if the right answer is never that close to a mistaken one. Section 8 needs a
    sales row for every team in every month (its relative productivity divides by team reps)."""
    sales = strategy.load_sales(seed)
    revenue = sales[sales["division"] == "switching"].groupby("month")["sales_kyuan"].sum()
    months = _switch_months(strategy.load_strategy_log(seed))

    def month_one(ratios):
        return 100 * (np.mean(ratios) - 1)

    right = month_one([revenue[s] / revenue.loc[s - 3:s - 1].mean() for s in months])
    mistaken = [month_one([revenue[s] / revenue.loc[s - 3:s].mean() for s in months]),
                month_one([revenue[s] / revenue.loc[s - 2:s].mean() for s in months]),
                month_one([revenue[s + 1] / revenue.loc[s - 3:s - 1].mean() for s in months])]
    for wrong in mistaken:
        assert abs(right - wrong) > 1e-3 * abs(right), (right, wrong)
    teams = sales.merge(strategy.load_roster(seed)[["rep_id", "team"]], on="rep_id")
    per_month = teams.groupby(["division", "team"])["month"].nunique()
    assert (per_month == strategy.N_MONTHS).all()
    assert len(per_month) == 2 * strategy.TEAMS_PER_DIVISION
