"""``sagebox evaluate`` on real XGBoost models, from local files and from the object store."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sagebox.cli.app import app

runner = CliRunner()


def loans(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.7, size=n) > 0.6).astype(float)
    return x, y


def write_csv(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """SageMaker's built-in layout: the label first, no header."""
    np.savetxt(path, np.c_[y, x], delimiter=",", fmt="%.6g")
    return path


def model_archive(folder: Path, objective: str, x: np.ndarray, y: np.ndarray) -> Path:
    """A model.tar.gz as an XGBoost training job writes it."""
    import xgboost

    params = {"objective": objective, "max_depth": 3, "eta": 0.3, "nthread": 1}
    if objective.startswith("multi:"):
        params["num_class"] = int(y.max()) + 1
    booster = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=8)
    (folder / "model").mkdir(parents=True)
    saved = folder / "model" / "model.json"  # the suffix names the format, as the algorithm's
    booster.save_model(str(saved))
    saved.rename(folder / "model" / "xgboost-model")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "model" / "xgboost-model", arcname="xgboost-model")
    return archive


@pytest.fixture(scope="module")
def binary_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_archive(tmp_path_factory.mktemp("binary"), "binary:logistic", *loans(300, 0))


def test_evaluates_a_binary_model_on_local_csv(tmp_path: Path, binary_model: Path) -> None:
    model = binary_model
    data = write_csv(tmp_path / "test.csv", *loans(200, 1))
    out = tmp_path / "report"
    args = [
        "evaluate",
        "--model",
        str(model),
        "--data",
        str(data),
        "--threshold",
        "0.4",
        "--cost-fp",
        "1",
        "--cost-fn",
        "5",
        "--output",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "auc" in result.stdout and "Threshold choices" in result.stdout
    assert f"wrote: {out / 'evaluation.html'}" in result.stdout
    body = json.loads((out / "evaluation.json").read_text())
    assert body["problem"] == "binary" and body["n_samples"] == 200
    assert body["metrics"]["auc"] > 0.8 and body["threshold"] == 0.4
    assert body["costs"]["false_negative"] == 5.0
    shown = next(line for line in result.stdout.splitlines() if line.strip(" │┃").startswith("auc"))
    assert f"{body['metrics']['auc']:.4f}" in shown
    assert "xgboost model on test.csv" in (out / "evaluation.html").read_text()


def test_libsvm_data_scores_the_same_as_csv(tmp_path: Path, binary_model: Path) -> None:
    x, y = loans(120, 4)
    csv = write_csv(tmp_path / "test.csv", x, y)
    libsvm = tmp_path / "test.libsvm"
    libsvm.write_text(
        "".join(
            f"{label:g} " + " ".join(f"{i}:{v:.6g}" for i, v in enumerate(row)) + "\n"
            for label, row in zip(y, x, strict=True)
        )
    )
    reports = []
    for data, kind in ((csv, "text/csv"), (libsvm, "text/libsvm")):
        out = tmp_path / kind.replace("/", "-")
        args = [
            "evaluate",
            "--model",
            str(binary_model),
            "--data",
            str(data),
            "--content-type",
            kind,
            "--output",
            str(out),
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        reports.append(json.loads((out / "evaluation.json").read_text())["metrics"])
    assert reports[0] == reports[1]


def test_evaluates_from_and_to_the_object_store(
    tmp_path: Path, home_path: Path, binary_model: Path
) -> None:
    from sagebox.session import Session

    store = Session(home_path).objects
    store.create_bucket("loan-models")
    store.put_object("loan-models", "job-1/output/model.tar.gz", binary_model)
    x, y = loans(240, 2)
    for part in range(2):  # a prefix of two files, read and scored one by one
        rows = slice(part * 120, (part + 1) * 120)
        body = write_csv(tmp_path / f"part-{part}.csv", x[rows], y[rows])
        store.put_object("loan-models", f"test/part-{part}.csv", body)
    args = [
        "evaluate",
        "--model",
        "s3://loan-models/job-1/output/",
        "--data",
        "s3://loan-models/test/",
        "--output",
        "s3://loan-models/eval/",
        "--home",
        str(home_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote: s3://loan-models/eval/evaluation.json" in result.stdout
    report = json.loads(store.get_object("loan-models", "eval/evaluation.json"))
    assert report["n_samples"] == 240 and report["metrics"]["auc"] > 0.8
    html = store.get_object("loan-models", "eval/evaluation.html").decode()
    assert html.count("data:image/png;base64,") == 5
    assert store.head_object("loan-models", "eval/evaluation.html").content_type == "text/html"


def test_regression_and_multiclass_models(tmp_path: Path) -> None:
    x, _ = loans(300, 3)
    amounts = 1000 * x[:, 0] + 200 * x[:, 2] + 5000
    reg = model_archive(tmp_path / "reg", "reg:squarederror", x, amounts)
    data = write_csv(tmp_path / "amounts.csv", x, amounts)
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            str(reg),
            "--data",
            str(data),
            "--threshold",
            "0.3",
            "--output",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "are ignored" in result.stderr
    assert json.loads((tmp_path / "r" / "evaluation.json").read_text())["metrics"]["r2"] > 0.8
    grades = np.digitize(x[:, 0], [-0.5, 0.5]).astype(float)
    multi = model_archive(tmp_path / "multi", "multi:softprob", x, grades)
    data = write_csv(tmp_path / "grades.csv", x, grades)
    result = runner.invoke(
        app,
        ["evaluate", "--model", str(multi), "--data", str(data), "--output", str(tmp_path / "m")],
    )
    assert result.exit_code == 0, result.output
    body = json.loads((tmp_path / "m" / "evaluation.json").read_text())
    assert body["problem"] == "multiclass" and body["metrics"]["accuracy"] > 0.8
    assert body["metrics"]["auc_ovr_macro"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--content-type", "application/json"], "--content-type 'application/json' is not"),
        (["--data", "missing.csv"], "--data missing.csv does not exist"),
    ],
)
def test_bad_arguments_are_explained(
    tmp_path: Path, binary_model: Path, args: list[str], message: str
) -> None:
    data = write_csv(tmp_path / "test.csv", *loans(50, 1))
    base = {"--model": str(binary_model), "--data": str(data)}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flat = [item for pair in base.items() for item in pair]
    result = runner.invoke(app, ["evaluate", *flat, "--output", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "(ValidationException)" in result.stderr and message in result.stderr
