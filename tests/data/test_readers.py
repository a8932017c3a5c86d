"""Readers and writers: every format, nested types, gzip, bad input and streaming."""

from __future__ import annotations

import datetime
import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sagebox.data import _json_reader
from sagebox.data.formats import DataSource, detect_format
from sagebox.data.readers import (
    ReadReport,
    infer_schema,
    list_data_objects,
    read_batches,
    read_table,
)
from sagebox.data.writers import write_table
from sagebox.errors import ValidationError
from sagebox.session import Session
from sagebox.store.objects import ObjectStore

BUCKET = "loan-data"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    objects = Session(tmp_path / "home").objects
    objects.create_bucket(BUCKET)
    return objects


def put(store: ObjectStore, key: str, body: bytes) -> str:
    store.put_object(BUCKET, key, body)
    return f"s3://{BUCKET}/{key}"


def nested_table() -> pa.Table:
    """Loan applications with a struct, a list of structs and a timestamp."""
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "applicant": pa.array(
                [
                    {"name": "Ada", "address": {"city": "Leeds"}},
                    {"name": "Bo", "address": None},
                    None,
                ],
                pa.struct([("name", pa.string()), ("address", pa.struct([("city", pa.string())]))]),
            ),
            "accounts": pa.array(
                [[{"type": "card", "limit": 500.0}], [], None],
                pa.list_(pa.struct([("type", pa.string()), ("limit", pa.float64())])),
            ),
            "applied_at": pa.array([datetime.datetime(2024, 1, d) for d in (1, 2, 3)]),
        }
    )


# -- round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "orc", "json", "jsonl"])
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_nested_round_trip_keeps_structs_and_lists(
    store: ObjectStore, fmt: str, compression: str | None
) -> None:
    if compression and fmt in ("parquet", "orc"):
        compression = "zstd"  # a codec inside the file, not around it
    table = nested_table()
    keys = write_table(store, f"s3://{BUCKET}/rt/", table, fmt, compression=compression)  # type: ignore[arg-type]
    assert len(keys) == 1
    back = read_table(store, DataSource(f"s3://{BUCKET}/rt/"))
    assert back.column_names == table.column_names
    assert pa.types.is_struct(back.schema.field("applicant").type)
    assert pa.types.is_list(back.schema.field("accounts").type)
    # timestamps come back in the unit the format stores; compare values
    expected = table.drop_columns(["applied_at"]).to_pylist()
    assert back.drop_columns(["applied_at"]).to_pylist() == expected
    assert [v.replace(tzinfo=None) for v in back.column("applied_at").to_pylist()] == [
        datetime.datetime(2024, 1, d) for d in (1, 2, 3)
    ]


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_csv_round_trip_infers_types(store: ObjectStore, compression: str | None) -> None:
    table = pa.table({"age": [35, 41], "income": [52000.5, None], "purpose": ["car", "home"]})
    [key] = write_table(store, f"s3://{BUCKET}/csv/", table, "csv", compression=compression)
    assert key.endswith(".csv.gz" if compression else ".csv")
    back = read_table(store, DataSource(f"s3://{BUCKET}/csv/"))
    assert back.schema == table.schema
    assert back.to_pylist() == table.to_pylist()


def test_gzip_without_extension_and_headerless_csv(store: ObjectStore) -> None:
    put(store, "raw/export", gzip.compress(b"1;car\n2;home\n"))
    source = DataSource(f"s3://{BUCKET}/raw/export", format="csv", csv_header=False,
                        csv_delimiter=";")  # fmt: skip
    assert read_table(store, source).to_pylist() == [
        {"f0": 1, "f1": "car"},
        {"f0": 2, "f1": "home"},
    ]


# -- detection -----------------------------------------------------------------------------
def test_detect_format_by_extension_then_content() -> None:
    assert detect_format("a/b.csv", b"x,y\n") == "csv"
    assert detect_format("a/b.ndjson.gz", b"") == "jsonl"
    assert detect_format("a/part-0", b"PAR1\x15\x04") == "parquet"
    assert detect_format("a/part-0", b"ORC\x0a") == "orc"
    assert detect_format("a/part-0", b'[{"a": 1}]') == "json"
    assert detect_format("a/part-0", b'{"a": 1}\n{"a": 2}\n') == "jsonl"
    assert detect_format("a/part-0", gzip.compress(b'{"a": 1}\n{"a": 2}\n')) == "jsonl"
    assert detect_format("a/part-0", b"age,default\n35,0\n") == "csv"


def test_detect_format_refuses_unknown_and_contradicting_content() -> None:
    with pytest.raises(ValidationError, match=r"'a/blob'.*Declare the format"):
        detect_format("a/blob", b"\x00\x01\x02")
    with pytest.raises(ValidationError, match=r"named as CSV but its content is PARQUET"):
        detect_format("a/data.csv", b"PAR1....")
    with pytest.raises(ValidationError, match=r"named as PARQUET but does not start"):
        detect_format("a/data.parquet", b"age,default\n")


def test_wrongly_named_file_is_refused_until_declared(store: ObjectStore) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"age": [35]}), buffer)
    uri = put(store, "mixed/data.csv", buffer.getvalue())
    with pytest.raises(ValidationError, match=r"data.csv.*PARQUET.*format='parquet'"):
        read_table(store, DataSource(uri))
    assert read_table(store, DataSource(uri, format="parquet")).to_pylist() == [{"age": 35}]


def test_file_that_does_not_match_its_declared_format(store: ObjectStore) -> None:
    uri = put(store, "raw/loans.data", b"age,default\n35,0\n")
    with pytest.raises(ValidationError, match=r"loans.data was declared as PARQUET"):
        read_table(store, DataSource(uri, format="parquet"))
    broken = put(store, "raw/broken.parquet", b"PAR1 this is not really parquet PAR1")
    with pytest.raises(ValidationError, match=r"broken.parquet is not a valid PARQUET"):
        read_table(store, DataSource(broken))
    not_json = put(store, "raw/notes.jsonl", b"age,default\n35,0\n")
    with pytest.raises(ValidationError, match=r"notes.jsonl is not JSON lines"):
        read_table(store, DataSource(not_json))


def test_listing_skips_markers_and_names_an_empty_prefix(store: ObjectStore) -> None:
    put(store, "out/part-0.csv", b"a\n1\n")
    put(store, "out/_SUCCESS", b"")
    put(store, "out/.part-0.csv.crc", b"crc")
    put(store, "out/empty.csv", b"")
    put(store, "out-old/part-0.csv", b"a\n9\n")
    keys = [i.key for i in list_data_objects(store, f"s3://{BUCKET}/out")]
    assert keys == ["out/part-0.csv"]
    with pytest.raises(ValidationError, match=r"No data objects under s3://loan-data/nothing"):
        list_data_objects(store, f"s3://{BUCKET}/nothing/")


# -- malformed rows and the error policy ---------------------------------------------------
BAD_JSONL = (
    b'{"id": 1, "amount": 100.5}\n'
    b"not json at all\n"
    b"[1, 2]\n"
    b'{"id": "three", "amount": 3}\n'
    b"\n"
    b'{"id": 5, "amount": 5}\n'
)


def test_malformed_json_lines_fail_with_file_and_line(store: ObjectStore) -> None:
    uri = put(store, "bad/a.jsonl", BAD_JSONL)
    with pytest.raises(ValidationError, match=r"a.jsonl at line 2: not valid JSON"):
        read_table(store, DataSource(uri))


def test_malformed_json_lines_are_skipped_and_counted(store: ObjectStore) -> None:
    uri = put(store, "bad/a.jsonl", BAD_JSONL)
    report = ReadReport()
    table = read_table(store, DataSource(uri), on_error="skip", report=report)
    assert table.column("id").to_pylist() == [1, 5]
    assert (report.rows, report.bad_rows) == (2, 3)
    assert [e["line"] for e in report.examples] == [2, 3, 4]
    assert "not an object" in report.examples[1]["error"]
    assert "'id' should be a number" in report.examples[2]["error"]
    assert report.examples[0]["raw"] == "not json at all"


def test_quarantine_writes_the_raw_bad_rows(store: ObjectStore) -> None:
    uri = put(store, "bad/a.jsonl.gz", gzip.compress(BAD_JSONL))
    report = ReadReport()
    read_table(
        store,
        DataSource(uri),
        on_error="quarantine",
        report=report,
        quarantine_uri=f"s3://{BUCKET}/errors/",
    )
    assert report.quarantine == f"s3://{BUCKET}/errors/bad-rows.jsonl"
    lines = store.get_object(BUCKET, "errors/bad-rows.jsonl").decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["raw"] for r in records] == [
        "not json at all",
        "[1, 2]",
        '{"id": "three", "amount": 3}',
    ]
    assert all(r["file"] == uri for r in records)
    with pytest.raises(ValidationError, match="needs quarantine_uri"):
        read_table(store, DataSource(uri), on_error="quarantine")


def test_malformed_csv_rows_per_policy(store: ObjectStore) -> None:
    # the types come from the first MiB, so the bad value sits beyond it
    good = "".join(f"{i},{i * 10}.5,car\n" for i in range(100_000))
    body = ("id,amount,purpose\n" + good + "7,8\n" + "x1,2.5,home\n" + "9,9.5,home\n").encode()
    uri = put(store, "bad/a.csv", body)
    with pytest.raises(ValidationError, match=r"a.csv at line 100002: the row has 2 cells"):
        read_table(store, DataSource(uri))
    report = ReadReport()
    table = read_table(
        store, DataSource(uri), on_error="quarantine", report=report,
        quarantine_uri=f"s3://{BUCKET}/errors/csv.jsonl",
    )  # fmt: skip
    assert table.num_rows == 100_001 and table.schema.field("id").type == pa.int64()
    assert report.bad_rows == 2
    assert report.examples[0]["raw"] == "7,8"
    assert "'x1' in column 'id' is not a valid int64" in report.examples[1]["error"]
    quarantined = store.get_object(BUCKET, "errors/csv.jsonl").decode().splitlines()
    assert len(quarantined) == 2


def test_examples_are_capped_and_snippets_cut(store: ObjectStore) -> None:
    body = b"".join(b"{broken " + b"x" * 500 + b"\n" for _ in range(30))
    uri = put(store, "bad/many.jsonl", b'{"a": 1}\n' + body)
    report = ReadReport()
    read_table(store, DataSource(uri), on_error="skip", report=report)
    assert report.bad_rows == 30 and len(report.examples) == 20
    assert all(len(e["raw"]) <= 200 for e in report.examples)


# -- deep and huge JSON --------------------------------------------------------------------
def test_deep_json_is_a_bad_row_not_a_crash(store: ObjectStore) -> None:
    deep = b'{"a": ' * 100 + b"1" + b"}" * 100
    deeper = b"[" * 100_000 + b"]" * 100_000
    uri = put(store, "deep/a.jsonl", b'{"a": 1}\n' + deep + b"\n" + deeper + b"\n")
    report = ReadReport()
    table = read_table(store, DataSource(uri), on_error="skip", report=report)
    assert table.num_rows == 1 and report.bad_rows == 2
    assert all("nested more than 64 levels" in e["error"] for e in report.examples)
    document = put(store, "deep/b.json", deeper)
    with pytest.raises(ValidationError, match="nested too deeply"):
        read_table(store, DataSource(document))


def test_huge_lines_and_documents_get_a_clear_error(
    store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_json_reader, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(_json_reader, "CHUNK_BYTES", 256)
    huge = b'{"a": "' + b"x" * 5000 + b'"}\n'
    uri = put(store, "huge/a.jsonl", b'{"a": "ok"}\n' + huge + b'{"a": "fine"}\n')
    report = ReadReport()
    table = read_table(store, DataSource(uri), on_error="skip", report=report)
    assert table.column("a").to_pylist() == ["ok", "fine"]
    assert report.examples[0]["line"] == 2
    assert "longer than 1000 bytes" in report.examples[0]["error"]
    monkeypatch.setattr(_json_reader, "MAX_JSON_DOCUMENT_BYTES", 100)
    document = put(store, "huge/b.json", json.dumps([{"a": i} for i in range(50)]).encode())
    with pytest.raises(ValidationError, match=r"larger than .* JSON lines"):
        read_table(store, DataSource(document))


def test_json_documents_array_and_single_object(store: ObjectStore) -> None:
    put(store, "docs/a.json", json.dumps([{"id": 1, "tags": ["x"]}, 7, {"id": 2}]).encode())
    put(store, "docs/b.json", json.dumps({"id": 3, "tags": []}).encode())
    report = ReadReport()
    table = read_table(store, DataSource(f"s3://{BUCKET}/docs/"), on_error="skip", report=report)
    assert table.to_pylist() == [
        {"id": 1, "tags": ["x"]},
        {"id": 2, "tags": None},
        {"id": 3, "tags": []},
    ]
    assert report.examples[0]["row"] == 2


# -- schemas across files ------------------------------------------------------------------
def test_schemas_unify_int_with_float_and_missing_columns(store: ObjectStore) -> None:
    put(store, "multi/a.jsonl", b'{"id": 1, "amount": 100}\n')
    put(store, "multi/b.jsonl", b'{"id": 2, "amount": 250.5, "purpose": "car"}\n')
    source = DataSource(f"s3://{BUCKET}/multi/")
    schema = infer_schema(store, source)
    assert schema.field("amount").type == pa.float64()
    assert read_table(store, source).to_pylist() == [
        {"id": 1, "amount": 100.0, "purpose": None},
        {"id": 2, "amount": 250.5, "purpose": "car"},
    ]


def test_conflicting_schemas_are_refused_naming_files_and_column(store: ObjectStore) -> None:
    put(store, "clash/a.jsonl", b'{"id": 1, "opened": {"year": 2020}}\n')
    put(store, "clash/b.jsonl", b'{"id": 2, "opened": 2021}\n')
    with pytest.raises(ValidationError) as caught:
        read_table(store, DataSource(f"s3://{BUCKET}/clash/"))
    message = caught.value.message
    assert "clash/a.jsonl" in message and "clash/b.jsonl" in message
    assert "'opened'" in message


def test_a_number_in_a_text_field_is_kept_as_text(store: ObjectStore) -> None:
    rows = [json.dumps({"postcode": f"LS{i}"}) for i in range(1500)] + ['{"postcode": 12345}']
    uri = put(store, "coerce/a.jsonl", ("\n".join(rows) + "\n").encode())
    table = read_table(store, DataSource(uri))
    assert table.column("postcode").to_pylist()[-1] == "12345"


def test_field_outside_the_sample_is_reported_not_dropped(store: ObjectStore) -> None:
    rows = [json.dumps({"id": i}) for i in range(1500)] + ['{"id": 1500, "late": true}']
    uri = put(store, "late/a.jsonl", ("\n".join(rows) + "\n").encode())
    with pytest.raises(ValidationError, match=r"line 1501: the field 'late' is not in the schema"):
        read_table(store, DataSource(uri))
    wider = pa.schema([("id", pa.int64()), ("late", pa.bool_())])
    table = read_table(store, DataSource(uri), schema=wider)
    assert table.column("late").to_pylist()[-1] is True


# -- streaming -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_reads_stream_in_bounded_batches(store: ObjectStore, fmt: str) -> None:
    rows = 200_000
    table = pa.table({"id": pa.array(range(rows)), "amount": pa.array([1.5] * rows)})
    write_table(store, f"s3://{BUCKET}/big-{fmt}/", table, fmt)  # type: ignore[arg-type]
    sizes = [
        batch.num_rows
        for batch in read_batches(store, DataSource(f"s3://{BUCKET}/big-{fmt}/"), batch_rows=10_000)
    ]
    assert sum(sizes) == rows
    assert max(sizes) <= 10_000 and len(sizes) >= 20


def test_columns_select_and_unknown_column_is_named(store: ObjectStore) -> None:
    write_table(store, f"s3://{BUCKET}/sel/", nested_table(), "parquet")
    source = DataSource(f"s3://{BUCKET}/sel/")
    table = read_table(store, source, columns=["id"])
    assert table.column_names == ["id"]
    with pytest.raises(ValidationError, match=r"Unknown column\(s\) 'nope'.*The data has: id"):
        read_table(store, source, columns=["nope"])


# -- writers -------------------------------------------------------------------------------
def test_label_first_headerless_csv_for_builtin_algorithms(store: ObjectStore) -> None:
    table = pa.table({"age": [35, 41], "income": [52.5, 61.0], "default": [0, 1]})
    [key] = write_table(
        store, f"s3://{BUCKET}/train/train.csv", table, "csv", label_first="default"
    )
    assert key == "train/train.csv"
    assert store.get_object(BUCKET, key) == b"0,35,52.5\n1,41,61\n"


def test_csv_injection_is_neutralised_but_numbers_are_not(store: ObjectStore) -> None:
    table = pa.table(
        {
            "note": ['=HYPERLINK("http://x")', "+1+cmd", "-5", "@SUM(A1)", "\tx", "plain"],
            "delta": [-1.5, 2.0, -3.0, 0.0, 1.0, 2.0],
        }
    )
    [key] = write_table(store, f"s3://{BUCKET}/export/", table, "csv")
    back = read_table(store, DataSource(f"s3://{BUCKET}/{key}"))
    assert back.column("note").to_pylist() == [
        '\'=HYPERLINK("http://x")',
        "'+1+cmd",
        "-5",
        "'@SUM(A1)",
        "'\tx",
        "plain",
    ]
    assert back.column("delta").to_pylist()[0] == -1.5
    write_table(store, f"s3://{BUCKET}/raw-export/", table, "csv", safe_csv=False)
    raw = read_table(store, DataSource(f"s3://{BUCKET}/raw-export/"))
    assert raw.column("note").to_pylist()[0] == '=HYPERLINK("http://x")'


def test_nested_columns_are_refused_in_csv(store: ObjectStore) -> None:
    with pytest.raises(
        ValidationError, match=r"nested column\(s\) 'applicant', 'accounts'.*Flatten"
    ):
        write_table(store, f"s3://{BUCKET}/x/", nested_table(), "csv")
    assert not list(store.iter_objects(BUCKET, "x/"))


def test_writer_streams_batches_into_one_object(store: ObjectStore) -> None:
    batches = (pa.record_batch({"id": list(range(i, i + 100))}) for i in range(0, 1000, 100))
    [key] = write_table(store, f"s3://{BUCKET}/stream/", batches, "parquet")
    assert read_table(store, DataSource(f"s3://{BUCKET}/{key}")).num_rows == 1000


def test_gzipped_parquet_is_spooled_for_random_access(store: ObjectStore) -> None:
    buffer = io.BytesIO()
    pq.write_table(nested_table(), buffer)
    uri = put(store, "zipped/data.parquet.gz", gzip.compress(buffer.getvalue()))
    table = read_table(store, DataSource(uri))
    assert table.column("id").to_pylist() == [1, 2, 3]
