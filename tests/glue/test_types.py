"""Arrow <-> Hive type strings, Glue's storage formats, and cron schedules."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sagebox.glue import InvalidInput, arrow_to_glue, glue_to_arrow, storage_format
from sagebox.glue.schedule import validate_schedule


@pytest.mark.parametrize(
    ("arrow", "glue"),
    [
        (pa.int64(), "bigint"),
        (pa.int32(), "int"),
        (pa.int16(), "smallint"),
        (pa.int8(), "tinyint"),
        (pa.uint32(), "bigint"),
        (pa.float64(), "double"),
        (pa.float32(), "float"),
        (pa.bool_(), "boolean"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.null(), "string"),
        (pa.binary(), "binary"),
        (pa.date32(), "date"),
        (pa.timestamp("ns", tz="UTC"), "timestamp"),
        (pa.decimal128(12, 2), "decimal(12,2)"),
        (pa.list_(pa.string()), "array<string>"),
        (pa.map_(pa.string(), pa.int64()), "map<string,bigint>"),
        (
            pa.struct(
                [("name", pa.string()), ("accounts", pa.list_(pa.struct([("b", pa.float64())])))]
            ),
            "struct<name:string,accounts:array<struct<b:double>>>",
        ),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
    ],
)
def test_arrow_types_as_glue_writes_them(arrow: pa.DataType, glue: str) -> None:
    assert arrow_to_glue(arrow) == glue


@pytest.mark.parametrize(
    "glue",
    [
        "bigint",
        "double",
        "boolean",
        "date",
        "decimal(10,2)",
        "array<struct<lender:string,balance:double>>",
        "map<string,array<int>>",
        "struct<first-name:string,`odd name`:bigint>",
    ],
)
def test_glue_types_read_back(glue: str) -> None:
    arrow = glue_to_arrow(glue)
    assert arrow_to_glue(arrow) == glue.replace("`", "")


def test_hive_aliases_and_bad_types() -> None:
    assert glue_to_arrow("varchar(20)") == pa.string()
    assert glue_to_arrow("INTEGER") == pa.int32()
    assert glue_to_arrow("timestamp") == pa.timestamp("us")
    for bad in ("array<", "struct<a>", "uuid", "int int"):
        with pytest.raises(InvalidInput, match="not a Hive type"):
            glue_to_arrow(bad)


def test_storage_formats_are_glues() -> None:
    parquet = storage_format("parquet")
    assert parquet.serde == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert parquet.input_format.endswith("MapredParquetInputFormat")
    assert storage_format("orc").serde == "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
    csv = storage_format("csv", delimiter="|")
    assert csv.serde_info() == {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": "|"},
    }
    assert storage_format("csv", quoted=True).serde == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    json = storage_format("json", columns=["a", "b"])
    assert json.serde == "org.openx.data.jsonserde.JsonSerDe"
    assert json.serde_parameters == {"paths": "a,b"}
    assert json.input_format == "org.apache.hadoop.mapred.TextInputFormat"
    with pytest.raises(InvalidInput, match="avro"):
        storage_format("avro")


@pytest.mark.parametrize(
    "expression",
    [
        "cron(15 12 * * ? *)",
        "cron(0 2 ? * MON-FRI *)",
        "cron(0/15 * * * ? 2030)",
        "cron(0 8 L * ? *)",
        "cron(0 8 ? * 6#3 *)",
        "cron(0,30 9-17 1,15 JAN-MAR ? *)",
    ],
)
def test_valid_schedules(expression: str) -> None:
    assert validate_schedule(expression) == expression


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("rate(5 minutes)", "cron"),
        ("cron(15 12 * * *)", "5 fields"),
        ("cron(61 12 * * ? *)", "Minutes"),
        ("cron(0 24 * * ? *)", "Hours"),
        ("cron(0 1 * * * *)", "exactly one"),
        ("cron(0 1 ? * ? *)", "exactly one"),
        ("cron(0 1 ? FOO * *)", "Month"),
        ("cron(0/0 1 * * ? *)", "step"),
    ],
)
def test_invalid_schedules_say_why(expression: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        validate_schedule(expression)
