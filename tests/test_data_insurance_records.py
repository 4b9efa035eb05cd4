"""Calibration of the member companies' records of case 05 (course/data/insurance_records.py).

The error rates are documented parameters of the generator (assumptions of the course; the
article gives no data-quality figures); each is measured against the simulated truth
(``_true_identities``) and must be within 4 standard errors ("4 sd") of the parameter, or of the
probability derived from the parameters where several combine. The figures the notebook quotes for
the default data are recomputed here by the matching rule of Question 6a.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from rapidfuzz import fuzz, process, utils
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from course.data import insurance
from course.data import insurance_records as ir
from tests.support import ROOT

SEEDS = [None, 1, 2]
Z = 4.0


def _sd(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def _within(observed: float, p: float, n: int) -> bool:
    return abs(observed - p) <= Z * _sd(p, n)


def _with_truth(seed) -> pd.DataFrame:
    """Records with their true customer and that customer's true identity fields."""
    records = ir.load_member_records(seed)
    member = ir.load_member_policies(seed)
    policies = insurance.load_policies(seed)
    owner = member[["policy_id", "record_id"]].merge(policies[["policy_id", "customer_id"]], on="policy_id")
    owner = owner.drop_duplicates("record_id").set_index("record_id")["customer_id"]
    out = records.assign(customer_id=owner.loc[records["record_id"]].to_numpy())
    truth = ir._true_identities(seed).add_prefix("true_")
    return out.merge(truth, left_on="customer_id", right_index=True, how="left", validate="many_to_one")


# ---- structure ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_one_record_per_customer_and_member_company(seed):
    records = ir.load_member_records(seed)
    member = ir.load_member_policies(seed)
    customers = insurance.load_customers(seed)
    policies = insurance.load_policies(seed)
    assert list(records.columns) == ["record_id", "company", "name", "birth_date", "phone", "address"]
    assert records["record_id"].is_unique
    prefix = records["record_id"].str[0].map({v: k for k, v in ir.PREFIX.items()})
    assert (prefix == records["company"]).all()
    individual = customers.loc[customers["customer_type"] == "individual", "customer_id"]
    ind_pol = policies[policies["customer_id"].isin(individual)]
    # member_policies are the individual customers' policies, field for field, keyed by record
    merged = member.merge(ind_pol, on="policy_id", suffixes=("", "_true"), validate="one_to_one")
    assert len(member) == len(ind_pol) == len(merged)
    for column in ["company", "product", "long_term", "annual_premium"]:
        assert (merged[column] == merged[f"{column}_true"]).all(), column
    # a record holds one true customer's policies, all with the record's company
    per_record = merged.groupby("record_id").agg(customers=("customer_id", "nunique"), companies=("company", "nunique"))
    assert (per_record == 1).all().all()
    assert set(per_record.index) == set(records["record_id"])
    # and there is one record per (customer, member company) pair
    assert len(records) == len(ind_pol[["customer_id", "company"]].drop_duplicates())
    by_record = merged.drop_duplicates("record_id").set_index("record_id")["company"]
    assert (by_record.loc[records["record_id"]].to_numpy() == records["company"].to_numpy()).all()


def test_record_numbers_carry_no_trace_of_the_customer_order():
    """Within each company, record numbers are a random order of its customers: the rank
    correlation with the customer number is within 4 sd of 0 (sd of a rank correlation under
    independence: 1 / sqrt(n - 1))."""
    frame = _with_truth(None)
    for company in ir.PREFIX:
        part = frame[frame["company"] == company]
        rho = part["record_id"].str[2:].astype(int).corr(part["customer_id"].str[1:].astype(int), method="spearman")
        assert abs(rho) <= Z / math.sqrt(len(part) - 1), company


# ---- calibration of the errors -----------------------------------------------------------------


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(sorted(name.lower().split()))


@pytest.mark.parametrize("seed", SEEDS)
def test_name_errors(seed):
    """Typos (NAME_TYPO_PROB: every typo changes a letter, so a typed name differs from the true
    one after case and word order are ignored), given name first (NAME_ORDER_PROB) and surname
    in capitals (NAME_UPPER_PROB), the last two measured on names without a typo."""
    frame = _with_truth(seed)
    true_name = frame["true_surname"] + " " + frame["true_given"]
    typo = np.array([_tokens(a) != _tokens(b) for a, b in zip(frame["name"], true_name, strict=True)])
    assert _within(typo.mean(), ir.NAME_TYPO_PROB, len(frame))
    clean = frame[~typo & (frame["true_surname"].str.lower() != frame["true_given"].str.lower())]
    first = clean["name"].str.split().str[0]
    given_first = first.str.lower() == clean["true_given"].str.lower()
    assert _within(given_first.mean(), ir.NAME_ORDER_PROB, len(clean))
    surname_token = np.where(given_first, clean["name"].str.split().str[1], first)
    upper = np.array([s == s.upper() for s in surname_token])
    assert _within(upper.mean(), ir.NAME_UPPER_PROB, len(clean))


@pytest.mark.parametrize("seed", SEEDS)
def test_birth_date_errors(seed):
    """Missing with BIRTH_MISSING_PROB; otherwise wrong with BIRTH_ERROR_PROB (every error changes
    the date); every date is a valid calendar date."""
    frame = _with_truth(seed)
    missing = frame["birth_date"].isna()
    assert _within(missing.mean(), ir.BIRTH_MISSING_PROB, len(frame))
    present = frame[~missing]
    assert pd.to_datetime(present["birth_date"], format="%Y-%m-%d", errors="coerce").notna().all()
    wrong = present["birth_date"] != present["true_birth_date"]
    assert _within(wrong.mean(), ir.BIRTH_ERROR_PROB, len(present))


@pytest.mark.parametrize("seed", SEEDS)
def test_phone_errors_and_formats(seed):
    """Missing (PHONE_MISSING_PROB); else the household landline (PHONE_HOME_PROB); else an old
    mobile (PHONE_OLD_PROB); mobiles written plain, dashed or international (PHONE_FORMATS)."""
    frame = _with_truth(seed)
    missing = frame["phone"].isna()
    assert _within(missing.mean(), ir.PHONE_MISSING_PROB, len(frame))
    present = frame[~missing]
    digits = present["phone"].str.replace(r"[^0-9]", "", regex=True).str[-11:]
    assert (digits.str.len() == 11).all()
    home = digits == present["true_home"]
    assert _within(home.mean(), ir.PHONE_HOME_PROB, len(present))
    mobiles = present[~home]
    old = digits[~home] != mobiles["true_mobile"]
    assert _within(old.mean(), ir.PHONE_OLD_PROB, len(mobiles))
    styles = {
        "plain": mobiles["phone"].str.fullmatch(r"1\d{10}"),
        "dashed": mobiles["phone"].str.fullmatch(r"1\d\d-\d{4}-\d{4}"),
        "international": mobiles["phone"].str.fullmatch(r"\+86 1\d\d \d{4} \d{4}"),
    }
    assert sum(s.sum() for s in styles.values()) == len(mobiles)
    for style, p in ir.PHONE_FORMATS.items():
        assert _within(styles[style].mean(), p, len(mobiles)), style


@pytest.mark.parametrize("seed", SEEDS)
def test_address_errors(seed):
    """A record's address is the true one unchanged with probability
    (1 - ADDRESS_MOVED_PROB)(1 - ADDRESS_ABBREV_PROB)(1 - ADDRESS_TYPO_PROB) (every abbreviation
    and typo changes the text; a move to the very same address is negligible)."""
    frame = _with_truth(seed)
    p = (1 - ir.ADDRESS_MOVED_PROB) * (1 - ir.ADDRESS_ABBREV_PROB) * (1 - ir.ADDRESS_TYPO_PROB)
    assert _within((frame["address"] == frame["true_address"]).mean(), p, len(frame))


@pytest.mark.parametrize("seed", SEEDS)
def test_households(seed):
    """A customer joins the previous customer's household with HOUSEHOLD_PROB when both live in
    the same region (probability sum of squared REGIONS weights); a member who joins keeps the
    head's surname with HOUSEHOLD_SAME_SURNAME, or draws one, which is the same with probability
    sum of squared surname weights."""
    truth = ir._true_identities(seed)
    n = len(truth)
    joined = truth["household"].to_numpy() != np.arange(n)
    same_region = sum(w**2 for w in insurance.REGIONS.values())
    assert _within(joined[1:].mean(), ir.HOUSEHOLD_PROB * same_region, n - 1)
    head_surname = truth["surname"].to_numpy()[truth["household"].to_numpy()]
    weights = np.array(list(ir.SURNAMES.values()), dtype=float)
    p_same = ir.HOUSEHOLD_SAME_SURNAME + (1 - ir.HOUSEHOLD_SAME_SURNAME) * float(((weights / weights.sum()) ** 2).sum())
    same = (truth["surname"].to_numpy() == head_surname)[joined]
    assert _within(same.mean(), p_same, int(joined.sum()))
    members = truth[joined]
    heads = truth.iloc[truth["household"].to_numpy()[joined]]
    assert (members["address"].to_numpy() == heads["address"].to_numpy()).all()
    assert (members["home"].to_numpy() == heads["home"].to_numpy()).all()


# ---- seeds -------------------------------------------------------------------------------------


_DIGEST_SCRIPT = """
import json, sys
from course.data import insurance_records as ir
from tests.test_data_insurance import _digest
seeds = json.loads(sys.argv[1])
print(json.dumps({str(s): _digest(ir.load_member_records(s), ir.load_member_policies(s)) for s in seeds}))
"""


def test_same_seed_same_records_across_processes_and_seeds_differ():
    from tests.test_data_insurance import _digest

    runs = [subprocess.run([sys.executable, "-c", _DIGEST_SCRIPT, json.dumps([None, 3])], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout for _ in range(2)]
    first, second = (json.loads(r) for r in runs)
    assert first == second
    assert first["3"] == _digest(ir.load_member_records(3), ir.load_member_policies(3))
    assert first["None"] != first["3"]
    assert not ir.load_member_records(1)["name"].equals(ir.load_member_records(2)["name"])


# ---- the matching exercise ---------------------------------------------------------------------


def _single_view(seed, min_score: int = 3):
    """Question 6a's rule: candidate pairs of different companies sharing a birth date or phone
    digits; one point each for name >= 85, same birth date, same phone, address >= 80."""
    rec = ir.load_member_records(seed).reset_index(drop=True)
    rec["phone_key"] = rec["phone"].str.replace(r"[^0-9]", "", regex=True).str[-11:]
    pairs = []
    for key in ["birth_date", "phone_key"]:
        keyed = rec[[key, "company"]].dropna().reset_index()
        both = keyed.merge(keyed, on=key)
        pairs.append(both.loc[(both["index_x"] < both["index_y"]) & (both["company_x"] != both["company_y"]),
                              ["index_x", "index_y"]])
    pairs = pd.concat(pairs).drop_duplicates()
    a, b = rec.loc[pairs["index_x"]].reset_index(drop=True), rec.loc[pairs["index_y"]].reset_index(drop=True)
    score = (
        (process.cpdist(a["name"].tolist(), b["name"].tolist(), scorer=fuzz.token_sort_ratio,
                        processor=utils.default_process) >= 85).astype(int)
        + (process.cpdist(a["address"].tolist(), b["address"].tolist(), scorer=fuzz.token_set_ratio,
                          processor=utils.default_process) >= 80)
        + (a["birth_date"].notna() & (a["birth_date"] == b["birth_date"])).to_numpy()
        + (a["phone_key"].notna() & (a["phone_key"] == b["phone_key"])).to_numpy()
    )
    keep = score >= min_score
    graph = coo_matrix((np.ones(keep.sum()), (pairs["index_x"].to_numpy()[keep], pairs["index_y"].to_numpy()[keep])),
                       shape=(len(rec), len(rec)))
    _, labels = connected_components(graph, directed=False)
    return rec, labels


def _pairs_within(*labels) -> int:
    counts = pd.Series(list(zip(*[np.asarray(x).tolist() for x in labels], strict=True))).value_counts()
    return int((counts * (counts - 1) // 2).sum())


@pytest.mark.parametrize("seed", SEEDS)
def test_matching_is_needed_and_imperfect(seed):
    """The exercise needs both errors for every seed: the records alone miscount one-policy
    customers, the rule at 3 misses true links (so copying the truth cannot pass as matching), and
    the looser rule at 2 makes false ones."""
    frame = _with_truth(seed)
    rec, labels = _single_view(seed)
    truth = frame.set_index("record_id").loc[rec["record_id"], "customer_id"].to_numpy()
    assert len(set(labels)) > len(set(truth))
    _, loose = _single_view(seed, 2)
    assert _pairs_within(loose, truth) < _pairs_within(loose)
    member = ir.load_member_policies(seed)
    long_per_record = member[member["long_term"]].groupby("record_id").size().reindex(rec["record_id"], fill_value=0)
    per_customer = member[member["long_term"]].merge(frame[["record_id", "customer_id"]]).groupby("customer_id").size()
    true_share = (per_customer.reindex(frame["customer_id"].unique(), fill_value=0) == 1).mean()
    assert abs((long_per_record == 1).mean() - true_share) > 0.05


def _notebook_text() -> str:
    path = ROOT / "source" / "case05_insurance_crm" / "case05_insurance_crm.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    return " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())


def test_figures_the_notebook_quotes_for_the_default_data():
    """Every default-data figure of Part C's text and of the model answer, at the precision the
    text gives it."""
    text = _notebook_text()
    frame = _with_truth(None)
    rec, labels = _single_view(None)
    truth = frame.set_index("record_id").loc[rec["record_id"], "customer_id"].to_numpy()
    assert f"links {len(rec):,} records into {len(set(labels)):,} customers; there are really {len(set(truth)):,}" in text

    def quality(min_score):
        lab = labels if min_score == 3 else _single_view(None, min_score)[1]
        both = _pairs_within(lab, truth)
        return both / _pairs_within(lab), both / _pairs_within(truth)

    (p2, r2), (p3, r3), (_, r4) = quality(2), quality(3), quality(4)
    assert f"(precision {p3:.0%})" in text and f"finds only {r3:.0%} of the true links" in text
    assert f"finds {r2:.0%} of the links but makes wrong ones (precision {p2:.0%})" in text
    assert 0.30 < r4 < 0.40 and "Raising it to 4 finds barely a third" in text

    member = ir.load_member_policies(None)
    n_long = member[member["long_term"]].groupby("record_id").size().reindex(rec["record_id"], fill_value=0).to_numpy()
    before = (n_long == 1).mean()
    after = (pd.Series(n_long).groupby(labels).sum() == 1).mean()
    assert f"say that {before:.0%} of individual customers hold a single long-term policy, not 76%" in text
    assert f"Matching brings the share to {after:.1%}" in text

    has = pd.crosstab(labels, rec["company"].to_numpy()) > 0
    true_has = pd.crosstab(truth, rec["company"].to_numpy()) > 0
    pool_before = int((rec["company"] == "life").sum())
    pool_after = int((has["life"] & ~has["pc"]).sum())
    pool_true = int((true_has["life"] & ~true_has["pc"]).sum())
    over, over_after = pool_before - pool_true, pool_after - pool_true
    assert f"overstated by about {round(over, -2):,} customers ({over / pool_true:.0%})" in text
    assert f"falls to about {round(over_after, -1):,} ({over_after / pool_true:.0%})" in text
    assert f"about {round(pool_true, -3):,} life customers hold no property & casualty policy" in text
    assert f"the life book looks like {round(pool_before, -2):,} prospects" in text
    assert f"some {round(over, -2):,} of those calls" in text and f"cuts that error to about {round(over_after, -1):,}" in text
    assert re.search(r"about 300 million pairs", text)
    assert round(len(rec) * (len(rec) - 1) / 2, -8) == 3e8
