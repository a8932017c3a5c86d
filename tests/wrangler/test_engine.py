"""Streaming execution: fitted states equal a whole-data fit; preview per step; errors."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sagebox.data.formats import DataSource
from sagebox.errors import ValidationError
from sagebox.session import Session
from sagebox.wrangler import Flow, compile_steps, registry, run_steps
from tests.wrangler.conftest import applications, jsonl


def _batches(table: pa.Table, size: int) -> list[pa.RecordBatch]:
    return table.to_batches(max_chunksize=size)


def flow() -> Flow:
    return (
        Flow("loans", source=DataSource("s3://raw/apps/", format="jsonl"))
        .add("flatten", column="applicant")
        .add("explode", column="credit_history")
        .add("flatten", column="credit_history")
        .add("flatten", column="loan")
        .add("handle-missing", strategy="mean", columns=["credit_history.limit"])
        .add("encode-one-hot", column="loan.purpose", max_categories=3)
        .add("scale", columns=["credit_history.limit"])
        .add("drop-duplicates", columns=["id"])
        .add("split", method="stratified", target="default", mode="column")
    )


def test_streaming_fit_equals_whole_data_fit_and_output_is_the_same() -> None:
    table = pa.Table.from_pylist(applications(600))
    collected: list[pa.Table] = []
    runs = compile_steps(flow().steps)
    result = run_steps(runs, _batches(table, 37), collected.append)
    assert len(collected) > 10, "the output streams in batches"
    assert result.rows_in == 600 and result.fit_passes == 2, "missing + one-hot share a pass"
    assert result.rows_out == 600, "one row per application after drop-duplicates on id"

    # the whole data at once, step by step, with plain fits
    whole = table
    for step in flow().steps:
        transform = registry.create(step.type, step.parameters)
        state = transform.fit(whole) if transform.is_stateful() else None
        if transform.is_stateful():
            streamed = result.states[step.id]
            assert streamed is not None
            if step.type == "handle-missing":
                assert streamed["fill_values"]["credit_history.limit"] == pytest.approx(
                    state["fill_values"]["credit_history.limit"]
                )
            elif step.type == "encode-one-hot":
                assert streamed == state, "same categories, same order"
            else:
                assert streamed["parameters"]["credit_history.limit"] == pytest.approx(
                    state["parameters"]["credit_history.limit"]
                )
        whole = transform.apply(whole, state)
    streamed_table = pa.concat_tables(collected)
    assert streamed_table.column_names == whole.column_names
    assert streamed_table.column("loan.purpose_car") == whole.column("loan.purpose_car")
    counts = {r.id: (r.rows_in, r.rows_out) for r in result.steps}
    assert counts["explode-1"] == (600, 600 // 4 * (1 + 1 + 2 + 3)), "an empty list keeps its row"
    assert counts["drop-duplicates-1"][1] == 600


def test_errors_name_the_step_once() -> None:
    broken = Flow("x", source=DataSource("s3://raw/x")).add("drop-columns", columns=["nope"])
    broken = broken.add("encode-one-hot", column="also-nope")
    table = pa.table({"a": [1, 2]})
    with pytest.raises(ValidationError) as caught:
        run_steps(compile_steps(broken.steps), [table], lambda t: None)
    message = caught.value.message
    assert message.startswith(
        "Step 'drop-columns-1' (drop-columns): DropColumns: the column 'nope'"
    )
    assert message.count("Step ") == 1


def test_preview_each_step_on_the_first_rows(session: Session) -> None:
    session.objects.create_bucket("raw")
    session.objects.put_object("raw", "apps/part-0.jsonl", jsonl(applications(300)))
    previews = flow().preview(session, rows=20)
    assert [p.step_id for p in previews] == [s.id for s in flow().steps]
    first, explode = previews[0], previews[1]
    assert first.rows == 20 and first.table.num_rows == 20
    assert "applicant.employment.status" in first.schema.names
    assert explode.rows > 20, "the preview shows the explode's true row count on the sample"
    assert explode.table.num_rows == 20, "but only the head of it"
    last = previews[-1]
    assert last.schema.names[-1] == "split" and last.state is None
    assert previews[5].state is not None and len(previews[5].state["categories"]) == 3
