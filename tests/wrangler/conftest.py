"""Small nested loan applications, as a loan-origination system sends them."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

PURPOSES = ("car", "home", "education", "business")
STATUSES = ("employed", "self-employed", "unemployed")


def application(i: int) -> dict[str, Any]:
    return {
        "id": f"app-{i:05d}",
        "applicant": {
            "name": f"Applicant {i}",
            "age": 20 + i % 50,
            "employment": {"status": STATUSES[i % 3], "years": i % 12},
            "address": {"city": ("Leeds", "Leicester", "London")[i % 3]},
        },
        "credit_history": [
            {"account": f"acc-{i}-{j}", "limit": 1000.0 * (j + 1), "late": j % 2}
            for j in range(i % 4)
        ],
        "loan": {
            "amount": 1000.0 + 10 * i,
            "term_months": 12 * (1 + i % 5),
            "purpose": PURPOSES[i % 4],
        },
        "default": int(i % 5 == 0),
    }


def applications(n: int) -> list[dict[str, Any]]:
    return [application(i) for i in range(n)]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


@pytest.fixture
def nested() -> pa.Table:
    return pa.Table.from_pylist(applications(40))
