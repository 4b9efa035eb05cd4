"""Member companies' own customer records for case 05 (entity resolution, 篇6).

The article wants one customer relationship system for the whole group, in which each member
company's system stays a part of the group's. Before that can work, the group has to find out
that customer ``L-004711`` of the life company and customer ``P-018230`` of the property &
casualty company are the same person. This module simulates what the group has to work with:

- :func:`load_member_records`: one row per customer **record** of a member company, with the
  identity fields the company typed in when it sold the policy: ``name`` (pinyin), ``birth_date``,
  ``phone`` and ``address``, each with the errors real records carry (typos, another spelling,
  a missing value, an old phone number or address, a shared home phone);
- :func:`load_member_policies`: the individual customers' policies of
  :func:`course.data.insurance.load_policies` keyed by the member company's ``record_id`` instead
  of the simulation's true ``customer_id``.

The truth is known because the records are made from the simulated group of
:mod:`course.data.insurance`: every individual customer gets one record at each member company
where they hold a policy (so a record's policies are all with its company), and
``policy_id`` links a record to its true ``customer_id``. A matching rule can therefore be scored
against the truth, which a real group cannot do.

How a record is made (every probability is a module constant, an assumption of this course;
the article gives no figures about data quality):

- **Person.** A surname from :data:`SURNAMES` (weighted), a given name of one or two syllables
  from :data:`GIVEN_SYLLABLES`; a birth date uniform over :data:`BIRTH_YEARS`; an 11-digit mobile
  number; a home address (house number, street, district and city of the customer's ``region``).
  A share :data:`HOUSEHOLD_PROB` of customers live with the customer before them in the list
  (same address and home phone; same surname with probability :data:`HOUSEHOLD_SAME_SURNAME`):
  family members who share a phone and an address are what fools a matching rule.
- **Name as typed.** With :data:`NAME_TYPO_PROB` one typing error (a letter changed, dropped,
  doubled, or two swapped); with :data:`NAME_ORDER_PROB` given name first; with
  :data:`NAME_UPPER_PROB` the surname in capitals (``WANG Wei``).
- **Birth date.** Missing with :data:`BIRTH_MISSING_PROB`; wrong with :data:`BIRTH_ERROR_PROB`
  (day and month swapped, or a day or a year off by one).
- **Phone.** Missing with :data:`PHONE_MISSING_PROB`; else the home landline (shared by the
  household) with :data:`PHONE_HOME_PROB`; else an old mobile number with :data:`PHONE_OLD_PROB`;
  a mobile is written ``13812345678``, ``138-1234-5678`` or ``+86 138 1234 5678``
  (:data:`PHONE_FORMATS`), a landline ``02584123456`` or ``025-84123456``.
- **Address.** An old address (the customer moved) with :data:`ADDRESS_MOVED_PROB`; abbreviated
  (``Rd``, ``St``, ``Ave``, no ``District``) with :data:`ADDRESS_ABBREV_PROB`; one typo with
  :data:`ADDRESS_TYPO_PROB`.

Record ids are the company's prefix (:data:`PREFIX`) and a number in random order, so they carry
no trace of the true customer.

>>> records = load_member_records()
>>> list(records.columns)
['record_id', 'company', 'name', 'birth_date', 'phone', 'address']
>>> list(load_member_policies().columns)
['policy_id', 'record_id', 'company', 'product', 'long_term', 'annual_premium']
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from course.data import insurance

#: Offset added to the seed of :mod:`course.data.insurance`, so the identity errors are drawn
#: from their own stream (the policy table is the same with or without this module).
SEED_OFFSET = 7_919

#: Record-id prefix per member company.
PREFIX = {"life": "L", "pc": "P", "health": "H", "pension": "A"}

# ---- people ------------------------------------------------------------------------------------
#: Common surnames (pinyin) and weights (roughly their frequency ranking; not a target).
SURNAMES = {
    "Wang": 10, "Li": 10, "Zhang": 9, "Liu": 7, "Chen": 6, "Yang": 4, "Huang": 3, "Zhao": 3,
    "Wu": 3, "Zhou": 3, "Xu": 2, "Sun": 2, "Ma": 2, "Zhu": 2, "Hu": 2, "Guo": 2, "He": 2,
    "Gao": 1, "Lin": 1, "Luo": 1, "Zheng": 1, "Liang": 1, "Xie": 1, "Song": 1, "Tang": 1,
}
#: Syllables of given names (pinyin); a given name has one or two of them.
GIVEN_SYLLABLES = [
    "wei", "fang", "na", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong", "yan", "jie",
    "tao", "ming", "chao", "xia", "ping", "gang", "hua", "hui", "ying", "hong", "mei", "lin",
    "bo", "hao", "yu", "xin", "kai", "jian", "peng", "dan", "lan", "feng", "qing", "xiu", "zhi",
    "wen", "bin",
]
#: Probability that a given name has two syllables.
TWO_SYLLABLE_PROB = 0.6
#: Birth years, uniform (inclusive).
BIRTH_YEARS = (1950, 1992)
#: Share of customers who live with the previous customer (same address and home phone).
HOUSEHOLD_PROB = 0.20
#: Probability that household members share a surname (parent and child, siblings).
HOUSEHOLD_SAME_SURNAME = 0.7

#: Cities per region, with their area codes (landlines are area code + local number, 11 digits).
CITIES = {
    "East": [("Shanghai", "021"), ("Nanjing", "025"), ("Hangzhou", "0571")],
    "North": [("Beijing", "010"), ("Tianjin", "022")],
    "South": [("Guangzhou", "020"), ("Shenzhen", "0755")],
    "Central": [("Wuhan", "027"), ("Changsha", "0731")],
    "West": [("Chengdu", "028"), ("Chongqing", "023"), ("Xi'an", "029")],
}
#: Street names and types; districts are drawn from DISTRICTS for every city.
STREETS = [
    "Renmin", "Jiefang", "Zhongshan", "Heping", "Jianshe", "Xinhua", "Changjiang", "Huaihai",
    "Dongfeng", "Wenhua", "Yingbin", "Chaoyang", "Binhe", "Huanghe", "Gongye", "Shengli",
]
STREET_TYPES = ["Road", "Street", "Avenue"]
DISTRICTS = ["Gulou", "Xuanwu", "Haidian", "Tianhe", "Jinjiang", "Yuelu", "Xihu", "Nankai"]
#: Mobile prefixes (first three digits).
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "158",
                   "159", "186", "187", "188", "189"]

# ---- errors in the records (assumptions; the article gives no data-quality figures) ----------
NAME_TYPO_PROB = 0.06
NAME_ORDER_PROB = 0.05
NAME_UPPER_PROB = 0.20
BIRTH_MISSING_PROB = 0.04
BIRTH_ERROR_PROB = 0.04
PHONE_MISSING_PROB = 0.06
PHONE_OLD_PROB = 0.10
PHONE_HOME_PROB = 0.15
#: How a phone number is written: plain, dashed, international (probabilities).
PHONE_FORMATS = {"plain": 0.6, "dashed": 0.25, "international": 0.15}
ADDRESS_MOVED_PROB = 0.10
ADDRESS_ABBREV_PROB = 0.30
ADDRESS_TYPO_PROB = 0.05

_ABBREV = {" Road": " Rd", " Street": " St", " Avenue": " Ave", " District": ""}
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _pick(u: float, options: list | str):
    """The option that a uniform draw ``u`` in [0, 1) falls on (equal weights)."""
    return options[min(int(u * len(options)), len(options) - 1)]


def _index(u: np.ndarray, n: int | np.ndarray) -> np.ndarray:
    """Uniform draws in [0, 1) turned into indices below ``n``."""
    return np.minimum((u * n).astype(int), np.asarray(n) - 1)


def _typo(u: np.ndarray, text: str) -> str:
    """One typing error in a letter of ``text`` (three uniforms: where, which kind, which letter):
    a letter changed, dropped, doubled, or swapped with the next one."""
    spots = [i for i, ch in enumerate(text) if ch.isalpha()]
    i = _pick(u[0], spots)
    kind = _pick(u[1], [0, 1, 2, 3])
    ch = text[i]
    if kind == 0:
        new = _pick(u[2], _LETTERS.replace(ch.lower(), ""))
        return text[:i] + (new.upper() if ch.isupper() else new) + text[i + 1:]
    if kind == 1 and len(spots) > 2:
        return text[:i] + text[i + 1:]
    if kind == 3 and i + 1 < len(text) and text[i + 1].isalpha() and text[i + 1] != ch:
        return text[:i] + text[i + 1] + ch + text[i + 2:]
    return text[:i] + ch + text[i:]


def _mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = np.array(MOBILE_PREFIXES)[rng.integers(len(MOBILE_PREFIXES), size=n)]
    return np.array([f"{a}{b:08d}" for a, b in zip(prefix.tolist(), rng.integers(10**8, size=n).tolist(), strict=True)])


def _addresses(rng: np.random.Generator, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(address, area code) of a random home in each region."""
    n = len(regions)
    u = rng.random((n, 5))
    city_lists = [CITIES[r] for r in regions]
    which = _index(u[:, 0], np.array([len(c) for c in city_lists])).tolist()
    cities = [c[k] for c, k in zip(city_lists, which, strict=True)]
    street = np.array(STREETS)[_index(u[:, 1], len(STREETS))].tolist()
    kind = np.array(STREET_TYPES)[_index(u[:, 2], len(STREET_TYPES))].tolist()
    district = np.array(DISTRICTS)[_index(u[:, 3], len(DISTRICTS))].tolist()
    number = (1 + _index(u[:, 4], 299)).tolist()
    address = np.array([f"{h} {s} {k}, {d} District, {c[0]}"
                        for h, s, k, d, c in zip(number, street, kind, district, cities, strict=True)])
    return address, np.array([c[1] for c in cities])


def _people(rng: np.random.Generator, regions: np.ndarray) -> dict[str, np.ndarray]:
    """The true identity of each individual customer (in the order given), as arrays."""
    n = len(regions)
    weights = np.array(list(SURNAMES.values()), dtype=float)
    surname = rng.choice(np.array(list(SURNAMES)), size=n, p=weights / weights.sum())
    syllables = np.array(GIVEN_SYLLABLES)
    first = syllables[rng.integers(len(syllables), size=n)]
    second = np.where(rng.random(n) < TWO_SYLLABLE_PROB, syllables[rng.integers(len(syllables), size=n)], "")
    given = np.array([(a + b).capitalize() for a, b in zip(first.tolist(), second.tolist(), strict=True)])
    start = np.datetime64(f"{BIRTH_YEARS[0]}-01-01")
    days = int((np.datetime64(f"{BIRTH_YEARS[1] + 1}-01-01") - start).astype(int))
    birth = (start + rng.integers(days, size=n)).astype(str)
    mobile = _mobiles(rng, n)
    address, area = _addresses(rng, regions)
    home = np.array([a + f"{x:08d}"[: 11 - len(a)] for a, x in zip(area.tolist(), rng.integers(10**8, size=n).tolist(), strict=True)])
    # Households: a customer joins the previous customer's home (same region) with HOUSEHOLD_PROB.
    joins = (rng.random(n) < HOUSEHOLD_PROB) & np.r_[False, regions[1:] == regions[:-1]]
    keep_surname = rng.random(n) < HOUSEHOLD_SAME_SURNAME
    head = np.arange(n)
    for i in np.flatnonzero(joins):
        head[i] = head[i - 1]
    surname = np.where(joins & keep_surname, surname[head], surname)
    return {"surname": surname, "given": given, "birth_date": birth, "mobile": mobile,
            "address": address[head], "home": home[head], "household": head}


def _typed_names(u: np.ndarray, surname: np.ndarray, given: np.ndarray) -> list[str]:
    sur = np.where(u[:, 0] < NAME_UPPER_PROB, np.char.upper(surname.astype(str)), surname)
    names = np.where(u[:, 1] < NAME_ORDER_PROB, np.char.add(np.char.add(given, " "), sur),
                     np.char.add(np.char.add(sur, " "), given)).tolist()
    for i in np.flatnonzero(u[:, 2] < NAME_TYPO_PROB):
        names[i] = _typo(u[i, 3:6], names[i])
    return names


def _typed_births(u: np.ndarray, birth: np.ndarray) -> list[str | None]:
    out: list[str | None] = birth.tolist()
    for i in np.flatnonzero(u[:, 1] < BIRTH_ERROR_PROB):
        y, m, d = (int(x) for x in str(out[i]).split("-"))
        kind = _pick(u[i, 2], [0, 1, 2])
        if kind == 0 and d <= 12 and d != m:
            m, d = d, m
        elif kind == 1:
            y += 1 if u[i, 3] < 0.5 else -1
            d = min(d, 28) if m == 2 else d  # 29 February has no twin a year off
        else:
            d = d + 1 if d < 28 else d - 1
        out[i] = f"{y:04d}-{m:02d}-{d:02d}"
    for i in np.flatnonzero(u[:, 0] < BIRTH_MISSING_PROB):
        out[i] = None
    return out


def _typed_phones(u: np.ndarray, mobile: np.ndarray, home: np.ndarray, old: np.ndarray) -> list[str | None]:
    number = np.where(u[:, 3] < PHONE_OLD_PROB, old, mobile)
    styles = np.searchsorted(np.cumsum(list(PHONE_FORMATS.values())), u[:, 2], side="right")
    out: list[str | None] = []
    for i, x in enumerate(number):
        if u[i, 0] < PHONE_MISSING_PROB:
            out.append(None)
        elif u[i, 1] < PHONE_HOME_PROB:  # the landline: area code, then the local number
            h = home[i]
            cut = 4 if h[:4] in {"0571", "0755", "0731"} else 3
            out.append(h if u[i, 2] < 0.5 else f"{h[:cut]}-{h[cut:]}")
        elif styles[i] == 1:
            out.append(f"{x[:3]}-{x[3:7]}-{x[7:]}")
        elif styles[i] == 2:
            out.append(f"+86 {x[:3]} {x[3:7]} {x[7:]}")
        else:
            out.append(x)
    return out


def _typed_addresses(u: np.ndarray, address: np.ndarray, moved: np.ndarray) -> list[str]:
    out = np.where(u[:, 0] < ADDRESS_MOVED_PROB, moved, address).tolist()
    for i in np.flatnonzero(u[:, 1] < ADDRESS_ABBREV_PROB):
        for long, short in _ABBREV.items():
            out[i] = out[i].replace(long, short)
    for i in np.flatnonzero(u[:, 2] < ADDRESS_TYPO_PROB):
        out[i] = _typo(u[i, 3:6], out[i])
    return out


@lru_cache(maxsize=4)
def _generate(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    customers = insurance.load_customers(seed)
    policies = insurance.load_policies(seed)
    individual = customers[customers["customer_type"] == "individual"]
    ids = individual["customer_id"].to_numpy(dtype=str)
    regions = individual["region"].to_numpy(dtype=str)
    rng = np.random.default_rng(seed + SEED_OFFSET)
    people = _people(rng, regions)

    pol = policies[policies["customer_id"].isin(ids)]
    pairs = pol[["customer_id", "company"]].drop_duplicates().reset_index(drop=True)
    who = np.searchsorted(ids, pairs["customer_id"].to_numpy(dtype=str))  # ids are sorted
    company = pairs["company"].to_numpy(dtype=str)
    record_id = np.empty(len(pairs), dtype=object)
    for code, prefix in PREFIX.items():
        at = np.flatnonzero(company == code)
        record_id[at] = [f"{prefix}-{k:06d}" for k in rng.permutation(len(at)) + 1]

    n = len(pairs)
    u = rng.random((n, 24))
    old_phone = _mobiles(rng, n)
    moved, _ = _addresses(rng, regions[who])
    records = pd.DataFrame({
        "record_id": record_id.astype(str),
        "company": company,
        "name": _typed_names(u[:, 0:6], people["surname"][who], people["given"][who]),
        "birth_date": pd.Series(_typed_births(u[:, 6:10], people["birth_date"][who]), dtype=object),
        "phone": pd.Series(_typed_phones(u[:, 10:14], people["mobile"][who], people["home"][who], old_phone), dtype=object),
        "address": _typed_addresses(u[:, 14:20], people["address"][who], moved),
    })
    records = records.sort_values("record_id", kind="stable").reset_index(drop=True)

    pairs["record_id"] = record_id.astype(str)
    member = pol.merge(pairs, on=["customer_id", "company"], how="left", validate="many_to_one")
    member = member[["policy_id", "record_id", "company", "product", "long_term", "annual_premium"]]
    truth = pd.DataFrame({k: v for k, v in people.items()}, index=pd.Index(ids, name="customer_id"))
    return records, member.reset_index(drop=True), truth


def _seed(seed: int | None) -> int:
    return insurance.DEFAULT_SEED if seed is None else int(seed)


def load_member_records(seed: int | None = None) -> pd.DataFrame:
    """The member companies' records of their individual customers, one row per record.

    Columns: ``record_id`` (str, the company's customer number, e.g. ``"L-004711"``),
    ``company`` (member company code), ``name`` (str, pinyin as typed), ``birth_date`` (str
    ``YYYY-MM-DD`` or missing), ``phone`` (str as typed, or missing), ``address`` (str).
    ``seed`` as in :func:`course.data.insurance.load_policies` (the same simulated group).
    """
    return _generate(_seed(seed))[0].copy()


def load_member_policies(seed: int | None = None) -> pd.DataFrame:
    """The individual customers' policies as the member companies know them, one row each.

    The rows of :func:`course.data.insurance.load_policies` for individual customers, with the
    member company's ``record_id`` in place of the group's true ``customer_id``. Columns:
    ``policy_id``, ``record_id``, ``company``, ``product``, ``long_term``, ``annual_premium``.
    """
    return _generate(_seed(seed))[1].copy()


def _true_identities(seed: int | None = None) -> pd.DataFrame:
    """The simulated people behind the records (for calibration tests, not for the notebook).

    One row per individual customer, indexed by ``customer_id``: ``surname``, ``given``,
    ``birth_date``, ``mobile``, ``address``, ``home`` (landline) and ``household`` (row number
    of the household's first customer, in customer order).
    """
    return _generate(_seed(seed))[2].copy()
