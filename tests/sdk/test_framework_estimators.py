"""Framework estimators (SKLearn, XGBoost, PyTorch): SageMaker scripts run unchanged."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sagebox
from sagebox.errors import ValidationError
from sagebox.runtime.logs import JobLogs
from sagebox.runtime.processes import namespace_mode
from sagebox.sdk.framework import pack_source
from sagebox.session import Session

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="PyTorch is not installed"
)

SKLEARN_SCRIPT = """
    import argparse, glob, json, os, sys

    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from features import columns  # a module from source_dir

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--n-estimators", type=int, default=10)
        parser.add_argument("--max-depth", type=int, default=None)
        parser.add_argument("--criterion", type=str, default="gini")
        parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
        parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
        args = parser.parse_args()

        files = sorted(glob.glob(os.path.join(args.train, "*.csv")))
        data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
        y, x = data[:, 0], data[:, columns()]
        model = RandomForestClassifier(
            n_estimators=args.n_estimators, max_depth=args.max_depth, criterion=args.criterion
        ).fit(x, y)
        print(f"train-accuracy: {model.score(x, y):.4f}")
        joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
        # literal SageMaker paths work too
        with open("/opt/ml/model/args.json" if os.path.isdir("/opt/ml/model") and
                  os.environ["SM_MODEL_DIR"] == "/opt/ml/model"
                  else os.path.join(args.model_dir, "args.json"), "w") as f:
            json.dump({"argv": sys.argv[1:], "n_estimators": model.n_estimators}, f)
"""


def _csv(rows: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    return "\n".join(
        ",".join([str(label), *(f"{v:.4f}" for v in row)]) for label, row in zip(y, x, strict=True)
    )


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def _data(session: Session) -> str:
    objects = session.objects
    if not objects.bucket_exists("mldata"):
        objects.create_bucket("mldata")
    objects.put_object("mldata", "train/part-0.csv", _csv(40, 1).encode())
    return "s3://mldata/train/"


def _model_files(session: Session, uri: str) -> dict[str, bytes]:
    bucket, key = uri[len("s3://") :].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(session.objects.get_object(bucket, key))) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_sklearn_script_trains_end_to_end(session: Session, tmp_path: Path) -> None:
    from sagebox.sdk.sklearn import SKLearn

    source = _write(
        tmp_path / "src",
        {
            "train.py": SKLEARN_SCRIPT,
            "features.py": "def columns():\n    return [1, 2, 3]\n",
            "requirements.txt": "scikit-learn\njoblib>=1.0\n",
        },
    )
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(source),
        framework_version="1.2-1",
        role=sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        hyperparameters={"n-estimators": 7, "max-depth": 3, "criterion": "entropy"},
        metric_definitions=[{"Name": "train:accuracy", "Regex": "train-accuracy: ([0-9.]+)"}],
        sagemaker_session=session,
    )
    estimator.fit({"train": _data(session)}, logs=False)
    described = estimator.describe()
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    name = estimator.latest_training_job
    bucket = session.default_bucket()
    assert estimator.uploaded_code == f"s3://{bucket}/{name}/source/sourcedir.tar.gz"
    hps = described["HyperParameters"]
    assert hps["sagemaker_program"] == '"train.py"'  # JSON-encoded, as the SageMaker SDK does
    assert hps["n-estimators"] == "7" and hps["criterion"] == '"entropy"'
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith(
        "/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert final["train:accuracy"] > 0.8
    assert estimator.model_data is not None
    files = _model_files(session, estimator.model_data)
    import joblib

    model = joblib.load(io.BytesIO(files["model.joblib"]))
    assert model.n_estimators == 7 and model.criterion == "entropy"
    args = json.loads(files["args.json"])
    assert args["argv"] == [
        "--criterion", "entropy", "--max-depth", "3", "--n-estimators", "7",
    ]  # fmt: skip
    log = "\n".join(
        line.text for line in JobLogs(session.home.path, "training-job", str(name)).read()
    )
    assert "sagebox does not pip-install at run time" in log


def test_the_entry_point_alone_is_packed_without_source_dir(tmp_path: Path) -> None:
    script = _write(tmp_path / "project", {"train.py": "print(1)\n", "secret.txt": "no"})
    lib = _write(tmp_path / "mylib", {"__init__.py": "X = 1\n"})
    archive = tmp_path / "sourcedir.tar.gz"
    program = pack_source(str(script / "train.py"), None, [lib], archive)
    assert program == "train.py"
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["mylib/__init__.py", "train.py"]
    with pytest.raises(ValidationError, match=r"entry_point 'missing\.py' is not a file"):
        pack_source("missing.py", str(script), [], archive)


def test_xgboost_script_mode(session: Session, tmp_path: Path) -> None:
    from sagebox.sdk.xgboost import XGBoost

    script = _write(
        tmp_path,
        {
            "xgb_train.py": """
                import argparse, os
                import numpy as np
                import xgboost as xgb

                parser = argparse.ArgumentParser()
                parser.add_argument("--num_round", type=int)
                parser.add_argument("--max_depth", type=int)
                args = parser.parse_args()
                data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "part-0.csv"),
                                  delimiter=",")
                train = xgb.DMatrix(data[:, 1:], label=data[:, 0])
                booster = xgb.train({"max_depth": args.max_depth, "objective": "binary:logistic"},
                                    train, num_boost_round=args.num_round)
                booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
                print("rounds", booster.num_boosted_rounds())
            """
        },
    )
    estimator = XGBoost(
        entry_point=str(script / "xgb_train.py"),
        framework_version="1.7-1",
        role=sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        output_path="s3://mldata/models",
        hyperparameters={"num_round": 4, "max_depth": 2},
        sagemaker_session=session,
    )
    estimator.fit({"train": _data(session)}, logs=False)
    described = estimator.describe()
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    # the code goes to the output bucket, as the SageMaker SDK puts it by default
    assert estimator.uploaded_code == (
        f"s3://mldata/{estimator.latest_training_job}/source/sourcedir.tar.gz"
    )
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(_model_files(session, str(estimator.model_data))["xgboost-model"]))
    assert booster.num_boosted_rounds() == 4


PYTORCH_SCRIPT = """
    import argparse, os
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 32).unsqueeze(1)
    y = 3 * x + 0.5
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        print(f"epoch={epoch} loss={loss.item():.6f}", flush=True)
    torch.save(model.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pth"))
"""


@needs_torch
def test_pytorch_trains_a_tiny_model(session: Session, tmp_path: Path) -> None:
    from sagebox.sdk.pytorch import PyTorch

    source = _write(tmp_path / "code", {"train.py": PYTORCH_SCRIPT})
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(source),
        framework_version="2.1",
        py_version="py310",
        role=sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        hyperparameters={"epochs": 60, "lr": 0.5},
        metric_definitions=[{"Name": "train:loss", "Regex": "loss=([0-9.]+)"}],
        sagemaker_session=session,
    )
    estimator.fit(logs=False)
    described = estimator.describe()
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["AlgorithmSpecification"]["TrainingImage"] == (
        f"763104351884.dkr.ecr.{session.region_name}.amazonaws.com/pytorch-training:2.1.0-cpu-py310"
    )
    losses = [
        p.value
        for p in session.home.metadata.get_metrics(described["TrainingJobArn"], "train:loss")
    ]
    assert len(losses) == 60 and losses[-1] < losses[0] / 10
    import torch

    state = torch.load(
        io.BytesIO(_model_files(session, str(estimator.model_data))["model.pth"]),
        weights_only=True,
    )
    assert abs(float(state["weight"][0, 0]) - 3.0) < 0.3


ALL_REDUCE_SCRIPT = """
    import os
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    rank = dist.get_rank()
    value = torch.tensor([float(rank + 1)])
    dist.all_reduce(value)
    print(f"rank={rank} world={dist.get_world_size()} master={os.environ['MASTER_ADDR']} "
          f"sum={value.item()}", flush=True)
    if rank == 0:
        with open(os.path.join(os.environ["SM_MODEL_DIR"], "sum.txt"), "w") as f:
            f.write(str(value.item()))
    dist.destroy_process_group()
"""


@needs_torch
def test_pytorch_distributed_all_reduce_across_two_instances(
    session: Session, tmp_path: Path
) -> None:
    if namespace_mode() is None:
        pytest.skip("algo-N host names resolve only inside a mount namespace")
    from sagebox.sdk.pytorch import PyTorch

    script = _write(tmp_path, {"ddp.py": ALL_REDUCE_SCRIPT})
    estimator = PyTorch(
        entry_point=str(script / "ddp.py"),
        framework_version="2.1",
        py_version="py310",
        role=sagebox.get_execution_role(session),
        instance_count=2,
        instance_type="ml.m5.large",
        distribution={"torch_distributed": {"enabled": True}},
        sagemaker_session=session,
        max_run=240,
    )
    estimator.fit(logs=False)
    described = estimator.describe()
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    lines = {
        line.stream.rsplit("/", 1)[-1]: line.text
        for line in JobLogs(
            session.home.path, "training-job", str(estimator.latest_training_job)
        ).read()
        if line.text.startswith("rank=")
    }
    assert lines == {
        "algo-1": "rank=0 world=2 master=algo-1 sum=3.0",
        "algo-2": "rank=1 world=2 master=algo-1 sum=3.0",
    }
    assert _model_files(session, str(estimator.model_data))["sum.txt"] == b"3.0"


def test_pytorch_needs_its_versions_and_known_distributions(session: Session) -> None:
    from sagebox.sdk.pytorch import PyTorch

    role = "arn:aws:iam::123456789012:role/R"
    with pytest.raises(ValidationError, match="py_version"):
        PyTorch(entry_point="t.py", framework_version="2.1", role=role, sagemaker_session=session)
    with pytest.raises(ValidationError, match="Unknown distribution"):
        PyTorch(
            entry_point="t.py",
            framework_version="2.1",
            py_version="py310",
            role=role,
            distribution={"parameter_server": {"enabled": True}},
            sagemaker_session=session,
        )


def test_a_failing_script_raises_with_the_reason(session: Session, tmp_path: Path) -> None:
    from sagebox.sdk.estimator import TrainingFailedError
    from sagebox.sdk.sklearn import SKLearn

    script = _write(tmp_path, {"bad.py": "import sys\nraise KeyError('SM_CHANNEL_TEST')\n"})
    estimator = SKLearn(
        entry_point=str(script / "bad.py"),
        framework_version="1.2-1",
        role=sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        sagemaker_session=session,
    )
    with pytest.raises(TrainingFailedError) as caught:
        estimator.fit(logs=False)
    reason: Any = caught.value.description["FailureReason"]
    assert "ExecuteUserScriptError" in reason and "KeyError: 'SM_CHANNEL_TEST'" in reason
