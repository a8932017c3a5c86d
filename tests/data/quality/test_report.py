"""The report end to end: German credit, the HTML page, S3 in and out, a large stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from sagebox.data.quality import ProfileConfig, build_report, quality_report, render_html
from sagebox.datasets import GERMAN_CREDIT
from sagebox.errors import ValidationError
from sagebox.home import Home


@pytest.fixture(scope="module")
def german() -> dict:
    return build_report(pcsv.read_csv(GERMAN_CREDIT), target="creditability")


def test_german_credit_report(german: dict) -> None:
    assert german["schema_version"] == "1"
    assert german["summary"]["rows"] == 1000 and german["summary"]["columns"] == 21
    assert german["target"]["problem_type"] == "classification"
    classes = {c["value"]: c["count"] for c in german["target"]["classes"]}
    assert classes == {"good": 700, "bad": 300}
    quick = german["quick_model"]
    assert quick["metric"] == "auc" and 0.7 <= quick["score"] <= 0.85
    assert len(quick["importances"]) == 20
    assert not [i for i in german["insights"] if i["kind"] == "target_leakage"]
    amount = next(c for c in german["columns"] if c["name"] == "credit_amount")
    assert amount["numeric"]["min"] == 250 and amount["numeric"]["max"] == 18424
    assert sum(amount["histogram"]["counts"]) == 1000
    # JSON holds it exactly as it is: no NaN, no numpy types.
    assert json.loads(json.dumps(german, allow_nan=False)) == german


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.ids.update(value for name, value in attrs if name == "id" and value)


def test_html_is_one_self_contained_page(german: dict) -> None:
    page = render_html(german)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "@import" not in page
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert {"summary", "insights", "target", "quick-model", "columns"} <= parser.ids
    assert parser.tags.count("svg") >= 21  # a sparkline per column, and the charts
    assert "creditability" in page and "AUC" in page and "credit_amount" in page


def test_html_escapes_what_comes_from_the_data() -> None:
    table = pa.table({"<b>name</b>": ["<script>alert(1)</script>", "x"] * 20})
    page = render_html(build_report(table))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;name&lt;/b&gt;" in page


def test_an_unknown_target_is_named_in_the_error() -> None:
    with pytest.raises(
        ValidationError, match=r"no column 'creditabilty'.*Did you mean 'creditability'"
    ):
        build_report(pcsv.read_csv(GERMAN_CREDIT), target="creditabilty")


def _stream(rows: int, size: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(11)
    for start in range(0, rows, size):
        n = min(size, rows - start)
        income = rng.lognormal(10, 0.4, n)
        debt = rng.uniform(0, 1, n)
        default = rng.random(n) < 1 / (1 + np.exp(-(4 * debt - 2.5)))
        yield pa.record_batch(
            {
                "loan_id": pa.array(np.arange(start, start + n)),
                "income": income,
                "debt_ratio": debt,
                "grade": rng.choice(["A", "B", "C", "D"], n),
                "default": default,
            }
        )


def test_a_200k_row_stream_in_2k_batches() -> None:
    config = ProfileConfig(sample_rows=5_000)
    report = build_report(_stream(200_000, 2_000), target="default", config=config)
    assert report["summary"]["rows"] == 200_000
    assert report["sample"]["rows"] == 5_000
    income = next(c for c in report["columns"] if c["name"] == "income")
    assert income["numeric"]["count"] == 200_000 and not income["numeric"]["quantiles_exact"]
    assert income["distinct_exact"] is False  # past the exact cap: estimated
    assert report["quick_model"]["score"] > 0.6
    assert report["quick_model"]["excluded"] == {"loan_id": "identifier or constant"}


def test_quality_report_reads_s3_and_writes_json_and_html(tmp_path: Path) -> None:
    store = Home.open(tmp_path / "home").objects
    store.create_bucket("loan-data")
    lines = GERMAN_CREDIT.read_text().splitlines()
    lines.insert(4, "only,three,cells")
    store.put_object("loan-data", "raw/german.csv", ("\n".join(lines) + "\n").encode())
    out = quality_report(
        store, "s3://loan-data/raw/german.csv", "s3://loan-data/reports/q1", target="creditability"
    )
    assert out.json_uri == "s3://loan-data/reports/q1/report.json"
    assert out.html_uri == "s3://loan-data/reports/q1/report.html"
    stored = json.loads(store.get_object("loan-data", "reports/q1/report.json"))
    assert stored == out.report
    assert stored["summary"]["malformed_rows"] == 1 and stored["summary"]["rows"] == 1000
    assert stored["read"]["examples"][0]["raw"] == "only,three,cells"
    assert stored["source"]["uri"] == "s3://loan-data/raw/german.csv"
    page = store.get_object("loan-data", "reports/q1/report.html").decode()
    assert 'id="malformed"' in page and "only,three,cells" in page
    assert store.head_object("loan-data", "reports/q1/report.html").content_type.startswith(
        "text/html"
    )


def test_nested_dates_and_odd_types_render() -> None:
    import datetime as dt

    n = 60
    table = pa.table(
        {
            "applied": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)]),
            "applicant": pa.array([{"age": 20 + i % 40, "city": "Oslo"} for i in range(n)]),
            "accounts": pa.array([[{"limit": i}] * (i % 4) for i in range(n)]),
            "nothing": pa.nulls(n),
        }
    )
    report = build_report(table)
    json.dumps(report, allow_nan=False)
    columns = {c["name"]: c for c in report["columns"]}
    assert columns["applied"]["datetime"]["min"] == "2024-01-01"
    assert columns["applied"]["histogram"]["edges"][-1] == "2024-02-29"
    assert columns["accounts"]["lengths"]["max"] == 3 and columns["accounts"]["empty_lists"] == 15
    assert columns["applicant.city"]["parent"] == "applicant"
    kinds = {(i["kind"], tuple(i["columns"])) for i in report["insights"]}
    assert ("constant_column", ("applicant.city",)) in kinds
    assert ("constant_column", ("nothing",)) in kinds
    page = render_html(report)
    assert "2024-01-01 to 2024-02-29" in page and "length mean" in page
