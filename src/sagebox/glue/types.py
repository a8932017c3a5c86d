"""Arrow types as Hive/Glue type strings and back, and the storage formats Glue writes.

A crawler writes a column's type as Glue does (``bigint``, ``double``, ``string``,
``array<struct<name:string,balance:double>>``); a query reads a table back with
:func:`glue_to_arrow`. :func:`storage_format` gives the ``InputFormat``, ``OutputFormat``
and ``SerdeInfo`` a Glue crawler puts in a table's ``StorageDescriptor`` per
classification.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sagebox.glue.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

CLASSIFICATIONS = ("parquet", "orc", "csv", "json")

_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


@dataclass(frozen=True)
class StorageFormat:
    """What a table's ``StorageDescriptor`` says about how its files are written."""

    classification: str
    input_format: str
    output_format: str
    serde: str
    serde_parameters: Mapping[str, str] = field(default_factory=dict)

    def serde_info(self) -> dict[str, Any]:
        return {
            "SerializationLibrary": self.serde,
            "Parameters": dict(self.serde_parameters),
        }


def storage_format(
    classification: str, *, delimiter: str = ",", quoted: bool = False, columns: Sequence[str] = ()
) -> StorageFormat:
    """The formats and SerDe Glue's built-in classifiers record for ``classification``."""
    if classification == "parquet":
        return StorageFormat(
            "parquet",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            {"serialization.format": "1"},
        )
    if classification == "orc":
        return StorageFormat(
            "orc",
            "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
        )
    if classification == "json":
        return StorageFormat(
            "json",
            _TEXT_INPUT,
            _TEXT_OUTPUT,
            "org.openx.data.jsonserde.JsonSerDe",
            {"paths": ",".join(columns)},
        )
    if classification == "csv":
        if quoted:  # Glue switches to OpenCSVSerde when values are quoted
            return StorageFormat(
                "csv",
                _TEXT_INPUT,
                _TEXT_OUTPUT,
                "org.apache.hadoop.hive.serde2.OpenCSVSerde",
                {"separatorChar": delimiter, "quoteChar": '"'},
            )
        return StorageFormat(
            "csv",
            _TEXT_INPUT,
            _TEXT_OUTPUT,
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            {"field.delim": delimiter},
        )
    raise InvalidInput(
        f"Unknown classification {classification!r}; use one of {', '.join(CLASSIFICATIONS)}."
    )


def arrow_to_glue(dtype: pa.DataType) -> str:
    """The Hive type string Glue writes for an Arrow type (``list<int64>`` -> ``array<bigint>``)."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(dtype):
        return arrow_to_glue(dtype.value_type)
    if t.is_boolean(dtype):
        return "boolean"
    if t.is_integer(dtype):
        width = dtype.bit_width + (1 if t.is_unsigned_integer(dtype) else 0)
        for bits, name in ((8, "tinyint"), (16, "smallint"), (32, "int")):
            if width <= bits:
                return name
        return "bigint"
    if t.is_floating(dtype):
        return "double" if dtype.bit_width == 64 else "float"
    if t.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    if t.is_string(dtype) or t.is_large_string(dtype) or pa.types.is_null(dtype):
        return "string"  # Glue also types all-null columns as string
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return "binary"
    if t.is_date(dtype):
        return "date"
    if t.is_timestamp(dtype):
        return "timestamp"
    if t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype):
        return f"array<{arrow_to_glue(dtype.value_type)}>"
    if t.is_map(dtype):
        return f"map<{arrow_to_glue(dtype.key_type)},{arrow_to_glue(dtype.item_type)}>"
    if t.is_struct(dtype):
        fields = ",".join(
            f"{dtype.field(i).name}:{arrow_to_glue(dtype.field(i).type)}"
            for i in range(dtype.num_fields)
        )
        return f"struct<{fields}>"
    return "string"  # time of day, durations, intervals: Hive has no such type


_SCALARS = {
    "boolean": "bool_",
    "tinyint": "int8",
    "smallint": "int16",
    "int": "int32",
    "integer": "int32",
    "bigint": "int64",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "string",
    "binary": "binary",
    "date": "date32",
}
_TOKEN = re.compile(r"\s*(`[^`]*`|[<>(),:]|[^<>(),:\s`]+)")


def glue_to_arrow(type_string: str) -> pa.DataType:
    """The Arrow type for a Hive type string; InvalidInput for one Glue would not accept."""
    parser = _TypeParser(type_string)
    dtype = parser.parse()
    parser.expect_end()
    return dtype


class _TypeParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                if text[pos:].strip() == "":
                    break
                raise self._error(f"unexpected {text[pos : pos + 10]!r}")
            self.tokens.append(match.group(1))
            pos = match.end()
        self.pos = 0

    def _error(self, what: str) -> InvalidInput:
        return InvalidInput(
            f"The column type {self.text!r} is not a Hive type ({what}). Use types such as "
            "bigint, double, string, timestamp, array<string>, struct<a:int,b:string>."
        )

    def _next(self) -> str:
        if self.pos >= len(self.tokens):
            raise self._error("it ends too early")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _take(self, expected: str) -> None:
        token = self._next()
        if token != expected:
            raise self._error(f"expected {expected!r}, found {token!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expect_end(self) -> None:
        if self.pos != len(self.tokens):
            raise self._error(f"unexpected {self.tokens[self.pos]!r}")

    def _numbers(self) -> list[int]:
        self._take("(")
        numbers = [int(self._next())]
        while self._peek() == ",":
            self._take(",")
            numbers.append(int(self._next()))
        self._take(")")
        return numbers

    def parse(self) -> pa.DataType:
        import pyarrow as pa

        name = self._next().lower()
        if name in _SCALARS:
            dtype: pa.DataType = getattr(pa, _SCALARS[name])()
            return dtype
        if name == "timestamp":
            return pa.timestamp("us")
        if name in ("varchar", "char"):
            if self._peek() == "(":
                self._numbers()
            return pa.string()
        if name == "decimal":
            precision, scale = 10, 0
            if self._peek() == "(":
                numbers = [*self._numbers(), 0]
                precision, scale = numbers[0], numbers[1]
            return pa.decimal128(precision, scale)
        if name == "array":
            self._take("<")
            item = self.parse()
            self._take(">")
            return pa.list_(item)
        if name == "map":
            self._take("<")
            key = self.parse()
            self._take(",")
            value = self.parse()
            self._take(">")
            return pa.map_(key, value)
        if name == "struct":
            self._take("<")
            fields = []
            while True:
                field_name = self._next().strip("`")
                self._take(":")
                fields.append(pa.field(field_name, self.parse()))
                if self._peek() != ",":
                    break
                self._take(",")
            self._take(">")
            return pa.struct(fields)
        raise self._error(f"unknown type {name!r}")
