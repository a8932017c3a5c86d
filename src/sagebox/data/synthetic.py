"""Synthetic loan applications with a known true default probability.

Each record is a nested application as a loan-origination system would send it: the
applicant (with address and employment), their credit history as an array of past
accounts, and the requested loan. ``default`` is drawn from a logistic model of income,
debt-to-income, past delinquencies, age, employment and term, and the model's probability
is stored in ``true_default_probability``, so a trained model's calibration and ranking
can be checked against the truth.

``duplicate_rate`` injects near-duplicates (the same person applying again, with typos in
name and email and a new application id); ``duplicate_of`` holds the original's id as
ground truth for entity resolution. ``drift`` shifts the population (lower incomes,
younger applicants, larger loans for drift > 0) for monitoring tests. Records are
generated in fixed chunks, each from its own seeded random stream, so the output is the
same for a seed whatever batch size is asked for; generation is vectorised with numpy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from sagebox.errors import ValidationError

CHUNK_ROWS = 50_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_EPOCH = np.datetime64("2023-01-01T00:00:00", "s")
_SPAN_SECONDS = 2 * 365 * 24 * 3600

FIRST_NAMES = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony "
    "Betty Mark Sandra Paul Ashley Steven Emily Andrew Donna Joshua Michelle Kevin Carol Brian "
    "Amanda George Melissa Oliver Sophie Lukas Anna Mateo Lucia Noah Emma Luca Chiara Ahmed "
    "Fatima Wei Mei Raj Priya Kofi Ama Sven Ingrid"
)
LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Muller Schmidt "
    "Schneider Fischer Weber Rossi Russo Bianchi Kowalski Nowak Khan Patel Singh Chen Wang"
)
CITIES = (
    ("London", "E"), ("London", "SW"), ("Manchester", "M"), ("Birmingham", "B"),
    ("Leeds", "LS"), ("Glasgow", "G"), ("Bristol", "BS"), ("Liverpool", "L"),
    ("Edinburgh", "EH"), ("Cardiff", "CF"), ("Belfast", "BT"), ("Nottingham", "NG"),
    ("Sheffield", "S"), ("Newcastle", "NE"), ("Leicester", "LE"), ("Brighton", "BN"),
)  # fmt: skip
DOMAINS = ("example.com", "mail.example", "inbox.example", "post.example", "web.example")
EMPLOYERS = (
    "Acme Logistics", "Northwind Traders", "Globex", "Initech", "Umbrella Health",
    "Stark Manufacturing", "Wayne Retail", "Hooli", "Vandelay Imports", "Soylent Foods",
    "City Council", "National Health Service", "Contoso Bank", "Fabrikam", "Tailspin Air",
)  # fmt: skip
STATUSES = ("employed", "self-employed", "unemployed", "retired", "student")
ACCOUNT_TYPES = ("credit_card", "mortgage", "auto_loan", "personal_loan", "student_loan")
PURPOSES = (
    "debt_consolidation", "home_improvement", "car", "education", "medical", "business",
    "vacation", "wedding", "other",
)  # fmt: skip
TERMS = np.array([12, 24, 36, 48, 60, 72])

# median limit and the share of rows of each account type
_LIMITS = np.array([4_000.0, 180_000.0, 18_000.0, 9_000.0, 20_000.0])
_ACCOUNT_SHARE = np.array([0.45, 0.15, 0.15, 0.15, 0.10])
_BASE_INCOME = np.array([52_000.0, 58_000.0, 12_000.0, 28_000.0, 9_000.0])
_STATUS_RISK = np.array([0.0, 0.25, 0.9, 0.1, 0.35])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _choice_by_row(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category index per row from a (rows, categories) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.asarray((draws > cumulative).sum(axis=1))


def _statuses(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    p = np.tile([0.74, 0.13, 0.06, 0.05, 0.02], (len(age), 1))
    p[age >= 65] = [0.14, 0.06, 0.03, 0.77, 0.0]
    p[age < 25] = [0.50, 0.04, 0.10, 0.0, 0.36]
    return _choice_by_row(rng, p)


def _base_table(rng: np.random.Generator, n: int, drift: float) -> pa.Table:
    """``n`` independent applications (no duplicates), as an Arrow table."""
    ids = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
    application_id = [f"app-{value:016x}" for value in ids.tolist()]
    applied_at = _EPOCH + rng.integers(0, _SPAN_SECONDS, n).astype("timedelta64[s]")
    applied_day = applied_at.astype("datetime64[D]")

    age = np.clip(np.round(rng.normal(43 - 9 * drift, 13, n)), 18, 85).astype(np.int64)
    days_into_year = rng.integers(1, 365, n)
    dob = applied_day - (age * 365.2425 + days_into_year).astype("timedelta64[D]")
    age = ((applied_day - dob).astype(np.int64) / 365.2425).astype(np.int64)

    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    number = rng.integers(1, 999, n)
    domain = rng.integers(0, len(DOMAINS), n)
    names = [f"{FIRST_NAMES[f]} {LAST_NAMES[s]}" for f, s in zip(first, last, strict=True)]
    emails = [
        f"{FIRST_NAMES[f].lower()}.{LAST_NAMES[s].lower()}{k}@{DOMAINS[d]}"
        for f, s, k, d in zip(first, last, number, domain, strict=True)
    ]
    city = rng.integers(0, len(CITIES), n)
    district = rng.integers(1, 30, n)
    sector = rng.integers(1, 10, n)
    unit = rng.integers(0, 26, (n, 2))
    postcodes = [
        f"{CITIES[c][1]}{d} {s}{chr(65 + u[0])}{chr(65 + u[1])}"
        for c, d, s, u in zip(city, district, sector, unit, strict=True)
    ]

    status = _statuses(rng, age)
    working = status <= 1
    employer_index = rng.integers(0, len(EMPLOYERS), n)
    employer = [
        (EMPLOYERS[e] if s == 0 else "Self-employed") if w else None
        for e, s, w in zip(employer_index, status, working, strict=True)
    ]
    years = np.where(
        working, np.minimum(np.round(rng.exponential(6.0, n), 1), np.maximum(age - 17, 0)), 0.0
    )
    age_factor = 1 + 0.012 * (np.minimum(age, 50) - 30)
    income = _BASE_INCOME[status] * age_factor * rng.lognormal(0.0, 0.45, n)
    income = np.round(np.maximum(income * (1 - 0.25 * drift), 3_000.0), -1)

    # credit history: 0-8 past accounts, more for older applicants
    counts = np.clip(rng.poisson(1.0 + (age - 18) / 15), 0, 8)
    total = int(counts.sum())
    owner = np.repeat(np.arange(n), counts)
    account = rng.choice(len(ACCOUNT_TYPES), total, p=_ACCOUNT_SHARE)
    years_back = rng.uniform(0.1, 1.0, total) * np.minimum(age[owner] - 17, 30)
    opened = applied_day[owner] - (years_back * 365.2425).astype("timedelta64[D]")
    limit = np.round(_LIMITS[account] * rng.lognormal(0.0, 0.5, total), -1)
    balance = np.round(limit * rng.beta(2.0, 3.0, total), 2)
    risk = rng.gamma(1.0, 1.0, n)  # a person's latent carelessness, seen only through history
    delinquencies = rng.poisson(0.15 * risk[owner])
    delinquent = np.bincount(owner, weights=delinquencies, minlength=n)
    is_mortgage = account == 1
    monthly_debt = np.bincount(
        owner, weights=balance * np.where(is_mortgage, 0.006, 0.025), minlength=n
    )

    # the requested loan
    amount = rng.lognormal(np.log(6_000 + 0.12 * income), 0.5) * (1 + 0.5 * drift)
    amount = np.round(np.clip(amount, 1_000, 100_000), -1)
    term = rng.choice(TERMS, n, p=[0.08, 0.17, 0.35, 0.15, 0.2, 0.05])
    purpose = rng.integers(0, len(PURPOSES), n)
    monthly_rate = 0.10 / 12
    payment = amount * monthly_rate / (1 - (1 + monthly_rate) ** -term)
    dti = (payment + monthly_debt) / (income / 12)

    logit = (
        -2.1
        - 0.8 * np.log(income / 45_000)
        + 1.6 * (np.minimum(dti, 3.0) - 0.35)
        + 0.45 * np.minimum(delinquent, 6)
        - 0.015 * (age - 40)
        + 0.012 * (term - 36)
        + _STATUS_RISK[status]
    )
    probability = _sigmoid(logit)
    default = (rng.random(n) < probability).astype(np.int64)
    rate = np.round(np.clip(4.5 + 20 * probability + rng.normal(0, 0.8, n), 2.5, 35.0), 2)

    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    history = pa.ListArray.from_arrays(
        pa.array(offsets),
        pa.StructArray.from_arrays(
            [
                pa.array(np.asarray(ACCOUNT_TYPES)[account]),
                pa.array(opened).cast(pa.date32()),
                pa.array(limit),
                pa.array(balance),
                pa.array(delinquencies.astype(np.int64)),
            ],
            names=["account_type", "opened", "limit", "balance", "delinquencies"],
        ),
    )
    address = pa.StructArray.from_arrays(
        [pa.array([CITIES[c][0] for c in city]), pa.array(postcodes)], names=["city", "postcode"]
    )
    employment = pa.StructArray.from_arrays(
        [
            pa.array(np.asarray(STATUSES)[status]),
            pa.array(employer, pa.string()),
            pa.array(years),
            pa.array(income),
        ],
        names=["status", "employer", "years", "annual_income"],
    )
    applicant = pa.StructArray.from_arrays(
        [
            pa.array(names),
            pa.array(dob).cast(pa.date32()),
            pa.array(age),
            pa.array(emails),
            address,
            employment,
        ],
        names=["name", "date_of_birth", "age", "email", "address", "employment"],
    )
    loan = pa.StructArray.from_arrays(
        [
            pa.array(amount),
            pa.array(term.astype(np.int64)),
            pa.array(np.asarray(PURPOSES)[purpose]),
            pa.array(rate),
        ],
        names=["amount", "term_months", "purpose", "interest_rate"],
    )
    return pa.table(
        {
            "application_id": pa.array(application_id),
            "applied_at": pa.array(applied_at),
            "applicant": applicant,
            "credit_history": history,
            "loan": loan,
            "default": pa.array(default),
            "true_default_probability": pa.array(np.round(probability, 6)),
            "duplicate_of": pa.nulls(n, pa.string()),
        }
    )


def _typo(rng: np.random.Generator, text: str) -> str:
    """``text`` with one keyboard slip: a swap, a dropped or doubled letter, a wrong letter."""
    if len(text) < 3:
        return text + text[-1:]
    i = int(rng.integers(1, len(text) - 1))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    letter = chr(97 + int(rng.integers(0, 26)))
    return text[:i] + (letter.upper() if text[i].isupper() else letter) + text[i + 1 :]


def _duplicates(rng: np.random.Generator, base: pa.Table, count: int) -> pa.Table:
    """``count`` re-applications by people in ``base``, with typos and new ids."""
    source = rng.integers(0, base.num_rows, count)
    copies = base.take(pa.array(source))
    applicant = copies.column("applicant").combine_chunks()
    names = applicant.field("name").to_pylist()
    emails = applicant.field("email").to_pylist()
    mistyped = rng.random((count, 2)) < [0.8, 0.6]
    new_names = [_typo(rng, n) if m else n for n, m in zip(names, mistyped[:, 0], strict=True)]
    new_emails = []
    for email, typo in zip(emails, mistyped[:, 1], strict=True):
        local, _, domain = email.partition("@")
        new_emails.append(f"{_typo(rng, local)}@{domain}" if typo else email)
    fields = [applicant.field(i) for i in range(applicant.type.num_fields)]
    names_index = applicant.type.get_field_index("name")
    email_index = applicant.type.get_field_index("email")
    fields[names_index] = pa.array(new_names)
    fields[email_index] = pa.array(new_emails)
    new_applicant = pa.StructArray.from_arrays(
        fields, fields=[applicant.type.field(i) for i in range(applicant.type.num_fields)]
    )
    ids = rng.integers(0, 2**63 - 1, count, dtype=np.int64)
    later = rng.integers(3600, 60 * 24 * 3600, count).astype("timedelta64[s]")
    applied = copies.column("applied_at").to_numpy() + later
    columns = {
        "application_id": pa.array([f"app-{v:016x}" for v in ids.tolist()]),
        "applied_at": pa.array(applied.astype("datetime64[s]")),
        "applicant": new_applicant,
        "duplicate_of": copies.column("application_id"),
    }
    return pa.table(
        {name: columns.get(name, copies.column(name)) for name in base.column_names},
        schema=base.schema,
    )


def _check(rows: int, duplicate_rate: float, drift: float) -> None:
    if not isinstance(rows, int) or rows < 0:
        raise ValidationError(f"rows must be a whole number >= 0; got {rows!r}.")
    if not 0.0 <= duplicate_rate < 1.0:
        raise ValidationError(
            f"duplicate_rate must be in [0, 1), the share of records that re-apply; got "
            f"{duplicate_rate!r}. Try 0.02."
        )
    if not -1.0 <= drift <= 1.0:
        raise ValidationError(
            f"drift must be in [-1, 1] (0: the reference population); got {drift!r}. Try 0.3."
        )


def loan_tables(
    rows: int, *, seed: int = 0, duplicate_rate: float = 0.0, drift: float = 0.0
) -> Iterator[pa.Table]:
    """Applications as Arrow tables of up to CHUNK_ROWS rows each (the fast form)."""
    _check(rows, duplicate_rate, drift)
    for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
        n = min(CHUNK_ROWS, rows - start)
        rng = np.random.default_rng([seed, chunk])
        duplicates = int(rng.binomial(n, duplicate_rate)) if duplicate_rate else 0
        duplicates = min(duplicates, n - 1)
        base = _base_table(rng, n - duplicates, drift)
        if duplicates:
            table = pa.concat_tables([base, _duplicates(rng, base, duplicates)])
            # keep each duplicate after its original, as a re-application would be
            order = np.argsort(table.column("applied_at").to_numpy(), kind="stable")
            table = table.take(pa.array(order))
        else:
            table = base
        yield table


def generate_loans(
    rows: int,
    *,
    seed: int = 0,
    duplicate_rate: float = 0.0,
    drift: float = 0.0,
    batch_rows: int = CHUNK_ROWS,
) -> Iterator[list[dict[str, Any]]]:
    """Applications as batches of nested dicts (at most ``batch_rows`` each)."""
    for table in rebatch(
        loan_tables(rows, seed=seed, duplicate_rate=duplicate_rate, drift=drift), batch_rows
    ):
        yield table.to_pylist()


def rebatch(tables: Iterator[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The same rows regrouped into tables of exactly ``rows`` rows (the last may be short)."""
    if rows < 1:
        raise ValidationError(f"The batch size must be at least 1 row; got {rows!r}.")
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        offset = 0
        while offset < table.num_rows:
            take = min(rows - held, table.num_rows - offset)
            pending.append(table.slice(offset, take))
            held += take
            offset += take
            if held == rows:
                yield pa.concat_tables(pending).combine_chunks()
                pending, held = [], 0
    if held:
        yield pa.concat_tables(pending).combine_chunks()


def flatten_for_csv(table: pa.Table) -> pa.Table:
    """Structs become dotted columns (``applicant.address.city``); lists become JSON text."""
    import duckdb

    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    lists = [
        f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)
    ]
    if not lists:
        return table
    with duckdb.connect() as connection:
        connection.register("nested", table.select(lists))
        quoted = ", ".join(f'to_json("{name}")::VARCHAR' for name in lists)
        as_text = connection.sql(f"SELECT {quoted} FROM nested").to_arrow_table()
    for index, name in enumerate(lists):
        position = table.schema.get_field_index(name)
        table = table.set_column(position, name, as_text.column(index))
    return table


def write_loans(
    store: Any,
    uri: str,
    rows: int,
    format: str,
    *,
    seed: int = 0,
    batch_rows: int = 100_000,
    duplicate_rate: float = 0.0,
    drift: float = 0.0,
) -> list[str]:
    """Write ``rows`` applications under ``uri`` as parts of at most ``batch_rows`` rows.

    ``format``: jsonl, parquet, orc (nested kept), or csv (flattened: dotted column names,
    credit_history as JSON text). Returns the keys written.
    """
    from sagebox.data.formats import SUFFIXES
    from sagebox.data.writers import write_table
    from sagebox.store.objects import parse_s3_uri

    if format not in ("jsonl", "parquet", "csv", "orc"):
        raise ValidationError(
            f"Loans can be written as jsonl, parquet, csv or orc; got {format!r}."
        )
    where = parse_s3_uri(uri)
    folder = where.key if not where.key or where.key.endswith("/") else where.key + "/"
    keys: list[str] = []
    tables = loan_tables(rows, seed=seed, duplicate_rate=duplicate_rate, drift=drift)
    for part, table in enumerate(rebatch(tables, batch_rows)):
        if format == "csv":
            table = flatten_for_csv(table)
        target = f"s3://{where.bucket}/{folder}part-{part:05d}{SUFFIXES[format]}"
        keys += write_table(store, target, table, format)  # type: ignore[arg-type]
    return keys
