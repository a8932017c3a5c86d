"""The SageMaker Python SDK's processing example, with its import lines changed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sagebox.runtime.processes import namespace_mode
from sagebox.session import Session

pytestmark = pytest.mark.skipif(
    namespace_mode() is None, reason="literal /opt/ml paths need a mount namespace"
)

PREPROCESS = """
    import argparse, pathlib
    import pandas as pd
    from sklearn.model_selection import train_test_split

    parser = argparse.ArgumentParser()
    parser.add_argument("--train-test-split-ratio", type=float, default=0.3)
    args = parser.parse_args()
    frame = pd.read_csv("/opt/ml/processing/input/applications.csv")
    train, test = train_test_split(frame, test_size=args.train_test_split_ratio,
                                   stratify=frame["default"], random_state=0)
    for name, part in (("train", train), ("test", test)):
        out = pathlib.Path(f"/opt/ml/processing/{name}")
        part.to_csv(out / f"{name}.csv", index=False)
    print(f"split {len(frame)} rows: {len(train)} train, {len(test)} test")
"""


def test_sklearn_processor_example(
    session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --- as in the SageMaker SDK docs, with sagebox imports ---
    import sagebox
    from sagebox.sdk.processing import ProcessingInput, ProcessingOutput, SKLearnProcessor

    data = tmp_path / "applications.csv"
    data.write_text("income,default\n" + "".join(f"{i},{i % 4 == 0:d}\n" for i in range(100)))
    code = tmp_path / "preprocessing.py"
    code.write_text(textwrap.dedent(PREPROCESS))
    input_uri = session.upload_data(data, key_prefix="raw")

    sklearn_processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=sagebox.get_execution_role(session),
        instance_type="ml.m5.xlarge",
        instance_count=1,
        sagemaker_session=session,
    )
    job = sklearn_processor.run(
        code=str(code),
        inputs=[ProcessingInput(source=input_uri, destination="/opt/ml/processing/input")],
        outputs=[
            ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
            ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
        ],
        arguments=["--train-test-split-ratio", "0.2"],
    )
    # --- what a user checks afterwards ---
    description = job.describe()
    assert description["ProcessingJobStatus"] == "Completed"
    assert description["ProcessingJobName"].startswith("sagemaker-scikit-learn-")
    assert "split 100 rows: 80 train, 20 test" in capsys.readouterr().out
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"]
        for o in description["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs["train"] == (f"s3://{session.default_bucket()}/{job.job_name}/output/train")
    train = session.download_data(tmp_path / "out", outputs["train"])
    assert [p.name for p in train] == ["train.csv"]
    assert len(train[0].read_text().splitlines()) == 81


def test_failed_job_raises_with_its_reason(session: Session, tmp_path: Path) -> None:
    from sagebox.sdk.processing import ScriptProcessor, UnexpectedStatusError

    code = tmp_path / "broken.py"
    code.write_text("import pandas as pd\npd.read_csv('/opt/ml/processing/input/none.csv')\n")
    processor = ScriptProcessor(
        role=session.get_execution_role(),
        image_uri="sagebox/sklearn",
        command=["python3"],
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=session,
    )
    with pytest.raises(UnexpectedStatusError, match="FileNotFoundError"):
        processor.run(code=str(code), logs=False)
