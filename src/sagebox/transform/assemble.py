"""From the model's answer for one request to the bytes written in the ``.out`` file.

``AssembleWith: None`` writes answers as they are, one after the other; ``Line`` ends
each with a line break. With ``JoinSource: Input`` or an ``OutputFilter`` each record's
own answer is needed: a MultiRecord answer is split back into one per record (one line
per record; or, for CSV, one comma-separated line of one value per record; or, for
JSON, one object holding a list of one entry per record, as ``{"predictions": [...]}``).
"""

from __future__ import annotations

import json
from typing import Any

from sagebox.transform.filters import (
    CsvPath,
    FilterError,
    JsonPath,
    join_csv,
    join_json,
    split_csv,
)
from sagebox.transform.records import Piece, RecordError
from sagebox.transform.settings import BatchSettings

__all__ = ["Assembler"]


class Assembler:
    def __init__(self, settings: BatchSettings, output_filter: CsvPath | JsonPath) -> None:
        self.settings = settings
        self.output_filter = output_filter
        self.join = settings.join_source == "Input"
        self.per_record = self.join or not output_filter.identity
        self.line = settings.assemble_with == "Line"

    def render(self, piece: Piece, body: bytes) -> bytes:
        """The bytes to append to the output file for ``piece`` answered with ``body``."""
        if not self.per_record:
            if self.line and not body.endswith(b"\n"):
                return body + b"\n"
            return body
        end = "\n" if self.line else ""
        # The filter was parsed for the answer's syntax (Accept, else ContentType).
        output_filter = self.output_filter
        if isinstance(output_filter, CsvPath):
            answers = self._csv_answers(piece, body)
            rows = [
                self._csv_row(piece, i, answer, output_filter) for i, answer in enumerate(answers)
            ]
        else:
            values = self._json_answers(piece, body)
            rows = [
                self._json_row(piece, i, value, output_filter) for i, value in enumerate(values)
            ]
        return "".join(row + end for row in rows).encode("utf-8")

    # ---- CSV ---------------------------------------------------------------------------
    def _csv_answers(self, piece: Piece, body: bytes) -> list[str]:
        text = body.decode("utf-8")
        lines = [line.rstrip("\r") for line in text.split("\n")]
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) == piece.count:
            return lines
        if piece.count == 1:
            return [",".join(lines)]  # one record answered on several lines: one row
        if len(lines) == 1 and len(values := split_csv(lines[0])) == piece.count:
            return values  # one comma-separated line, a value per record
        raise self._mismatch(piece, f"{len(lines)} lines")

    def _csv_row(self, piece: Piece, index: int, answer: str, output_filter: CsvPath) -> str:
        try:
            if not self.join:
                return join_csv(output_filter.columns(split_csv(answer)))
            record = self._record(piece, index).decode("utf-8")
            if output_filter.identity:
                return f"{record},{answer}"
            joined = split_csv(record) + split_csv(answer)
            return join_csv(output_filter.columns(joined))
        except FilterError as exc:
            raise self._filter_failed(piece, index, exc) from None

    # ---- JSON --------------------------------------------------------------------------
    def _json_answers(self, piece: Piece, body: bytes) -> list[Any]:
        text = body.decode("utf-8").strip()
        if piece.count == 1:
            return [self._parse(piece, text)]
        lines = [line for line in text.split("\n") if line.strip()]
        if len(lines) == piece.count:
            return [self._parse(piece, line) for line in lines]
        whole = self._parse(piece, text) if len(lines) != 0 else None
        if isinstance(whole, dict) and len(whole) == 1:
            (listed,) = whole.values()
            if isinstance(listed, list) and len(listed) == piece.count:
                return listed  # {"predictions": [...]}: an entry per record
        if isinstance(whole, list) and len(whole) == piece.count:
            return whole
        raise self._mismatch(piece, f"{len(lines)} JSON lines")

    def _parse(self, piece: Piece, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise RecordError(
                piece.first_line,
                f"the model's answer for records {self._span(piece)} is not JSON ({exc}); "
                "JoinSource and OutputFilter read the answer as JSON. Set Accept to "
                "application/json or application/jsonlines.",
            ) from None

    def _json_row(self, piece: Piece, index: int, value: Any, output_filter: JsonPath) -> str:
        try:
            if self.join:
                record = self._record(piece, index)
                try:
                    source = json.loads(record)
                except ValueError as exc:
                    raise FilterError(f"the input record is not JSON ({exc})") from None
                value = join_json(source, value)
            selected = output_filter.value(value)
        except FilterError as exc:
            raise self._filter_failed(piece, index, exc) from None
        return json.dumps(selected, separators=(",", ":"))

    # ---- shared ------------------------------------------------------------------------
    def _record(self, piece: Piece, index: int) -> bytes:
        assert piece.records is not None  # kept by records.pieces whenever a join is set
        return piece.records[index]

    @staticmethod
    def _span(piece: Piece) -> str:
        if piece.count == 1:
            return f"at line {piece.first_line}"
        return f"from line {piece.first_line} ({piece.count} records)"

    def _mismatch(self, piece: Piece, got: str) -> RecordError:
        return RecordError(
            piece.first_line,
            f"the model answered {got} for the {piece.count} records {self._span(piece)}; "
            "JoinSource and OutputFilter need one answer per record. Use BatchStrategy "
            "SingleRecord, or a model that answers one line per record.",
        )

    def _filter_failed(self, piece: Piece, index: int, exc: FilterError) -> RecordError:
        where = "JoinSource/OutputFilter" if self.join else "OutputFilter"
        return RecordError(
            piece.first_line, f"{where} failed on a record {self._span(piece)}: {exc}"
        )
