"""Cutting input files into requests, and their answers into the output file."""

from __future__ import annotations

import gzip
import io
import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagebox.transform.assemble import Assembler
from sagebox.transform.filters import parse_filter
from sagebox.transform.records import Piece, RecordError, open_input, pieces, raw_blocks
from sagebox.transform.settings import BatchSettings

CSV = BatchSettings(content_type="text/csv", accept="text/csv", split_type="Line")
IDENTITY = parse_filter("$", "csv", "x")


def _lines(count: int, width: int = 3) -> bytes:
    rows = (",".join(str(i * width + j) for j in range(width)) for i in range(count))
    return "".join(row + "\n" for row in rows).encode()


@given(
    st.lists(st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
    st.integers(min_value=41, max_value=300),
    st.booleans(),
)
def test_raw_blocks_keep_every_byte_in_order_and_whole_lines(
    lines: list[bytes], limit: int, final_newline: bool
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    blocks = list(raw_blocks(io.BytesIO(data), limit, limit))
    assert b"".join(p.body for p in blocks) == data
    assert all(len(p.body) <= limit for p in blocks)
    assert all(p.body.endswith(b"\n") for p in blocks[:-1])  # never a record cut in two
    # where each block lies in the file (a slot process reads it from there), which line
    # it starts on, and how many records it holds
    for p in blocks:
        assert p.offset is not None and data[p.offset : p.offset + len(p.body)] == p.body
        assert p.first_line == data[: p.offset].count(b"\n") + 1
        assert p.count == p.body.count(b"\n") + (not p.body.endswith(b"\n"))


def test_multi_record_packs_as_many_records_as_fit() -> None:
    settings = replace(CSV, strategy="MultiRecord", max_payload_bytes=1024)
    sent = list(pieces(io.BytesIO(_lines(500)), settings, IDENTITY))
    assert len(sent) > 1
    assert all(len(p.body) <= 1024 for p in sent)
    assert sum(p.count for p in sent) == 500
    # the next request's first record would not have fit in this one
    for this, following in itertools.pairwise(sent):
        assert len(this.body) + 1 + len(following.body.split(b"\n")[0]) > 1024


def test_single_record_sends_each_line_alone_without_blank_lines() -> None:
    data = b"1,2\n\n3,4\r\n5,6"
    sent = list(pieces(io.BytesIO(data), CSV, IDENTITY))
    assert [(p.body, p.first_line) for p in sent] == [(b"1,2", 1), (b"3,4", 3), (b"5,6", 4)]


def test_a_record_larger_than_the_payload_names_its_line() -> None:
    data = b"1,2\n" + b"9," * 700_000 + b"9\n3,4\n"
    for strategy in ("MultiRecord", "SingleRecord"):
        settings = replace(CSV, strategy=strategy, max_payload_bytes=1024 * 1024)
        with pytest.raises(RecordError) as caught:
            list(pieces(io.BytesIO(data), settings, IDENTITY))
        assert caught.value.line == 2
        assert "1400001 bytes, more than MaxPayloadInMB allows" in caught.value.message


def test_no_payload_limit_sends_a_long_record_alone() -> None:
    data = b"1\n" + b"7" * (7 * 1024 * 1024) + b"\n2\n"
    settings = replace(CSV, strategy="MultiRecord", max_payload_bytes=0)
    sent = list(pieces(io.BytesIO(data), settings, IDENTITY))
    assert b"".join(p.body for p in sent) == data
    assert [p.first_line for p in sent] == [1, 2, 3]


def test_input_filter_is_applied_and_originals_kept_for_the_join() -> None:
    settings = replace(CSV, strategy="MultiRecord", input_filter="$[1:]", join_source="Input")
    (piece,) = pieces(io.BytesIO(b"a,1,2\nb,3,4\n"), settings, parse_filter("$[1:]", "csv", "x"))
    assert piece.body == b"1,2\n3,4"
    assert piece.records == (b"a,1,2", b"b,3,4")


def test_gzip_input_is_read_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "part.csv.gz"
    path.write_bytes(gzip.compress(_lines(50)))
    with open_input(path, "Gzip") as stream:
        sent = list(pieces(stream, replace(CSV, strategy="MultiRecord"), IDENTITY))
    assert b"".join(p.body for p in sent) == _lines(50)


def test_split_none_sends_the_file_whole_within_the_payload() -> None:
    settings = replace(CSV, split_type="None", max_payload_bytes=1024 * 1024)
    (piece,) = pieces(io.BytesIO(_lines(10)), settings, IDENTITY)
    assert piece.body == _lines(10)
    with pytest.raises(RecordError, match="SplitType None"):
        list(pieces(io.BytesIO(b"x" * (1024 * 1024 + 1)), settings, IDENTITY))


# ---- answers -> output --------------------------------------------------------------------


def _piece(records: list[bytes]) -> Piece:
    return Piece(b"\n".join(records), 1, len(records), tuple(records))


def test_assemble_with_none_concatenates_and_line_ends_each_answer() -> None:
    piece = _piece([b"1,2"])
    none = Assembler(replace(CSV, assemble_with="None"), IDENTITY)
    line = Assembler(replace(CSV, assemble_with="Line"), IDENTITY)
    assert none.render(piece, b"0.5") + none.render(piece, b"0.7") == b"0.50.7"
    assert line.render(piece, b"0.5") + line.render(piece, b"0.7\n") == b"0.5\n0.7\n"


def test_csv_join_and_output_filter_per_record() -> None:
    settings = replace(CSV, assemble_with="Line", join_source="Input", output_filter="$[0,-1]")
    assembler = Assembler(settings, parse_filter("$[0,-1]", "csv", "x"))
    piece = _piece([b"a,1,2", b"b,3,4"])
    assert assembler.render(piece, b"0.1\n0.9\n") == b"a,0.1\nb,0.9\n"
    # an answer of one comma-separated line, a value per record, is split the same way
    assert assembler.render(piece, b"0.1,0.9") == b"a,0.1\nb,0.9\n"
    joined = Assembler(replace(settings, output_filter="$"), parse_filter("$", "csv", "x"))
    assert joined.render(piece, b"0.1\n0.9\n") == b"a,1,2,0.1\nb,3,4,0.9\n"


def test_an_answer_that_does_not_match_the_records_fails_clearly() -> None:
    settings = replace(CSV, assemble_with="Line", join_source="Input")
    assembler = Assembler(settings, parse_filter("$", "csv", "x"))
    with pytest.raises(RecordError, match=r"answered 3 lines for the 2 records"):
        assembler.render(_piece([b"a", b"b"]), b"1\n2\n3\n")


def test_json_join_splits_a_predictions_list_per_record() -> None:
    settings = BatchSettings(
        content_type="application/jsonlines",
        accept="application/json",
        split_type="Line",
        assemble_with="Line",
        join_source="Input",
        output_filter="$['id','SageMakerOutput']",
    )
    assembler = Assembler(settings, parse_filter(settings.output_filter, "json", "x"))
    piece = _piece([b'{"id": 1, "features": [1]}', b'{"id": 2, "features": [2]}'])
    body = b'{"predictions": [{"score": 0.1}, {"score": 0.9}]}'
    assert assembler.render(piece, body) == (
        b'{"id":1,"SageMakerOutput":{"score":0.1}}\n{"id":2,"SageMakerOutput":{"score":0.9}}\n'
    )
