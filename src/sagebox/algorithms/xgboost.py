"""SageMaker's built-in XGBoost algorithm, run as the program of a training job.

It follows the SageMaker container contract (docs/algorithms.md); every path comes from
SageMaker's ``SM_*`` variables when set, else from /opt/ml.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sagebox.algorithms.xgboost_params import (
    HYPERPARAMETERS,
    METRIC_DEFINITIONS,
    NOT_BOOSTER_PARAMS,
    validate_hyperparameters,
)
from sagebox.errors import ValidationError

__all__ = ["HYPERPARAMETERS", "METRIC_DEFINITIONS", "main", "validate_hyperparameters"]

MODEL_FILENAME = "xgboost-model"
CHECKPOINT_PREFIX = "xgboost-checkpoint."
CHECKPOINTS_KEPT = 5
MAX_TAR_MEMBER_BYTES = 1 << 30
DEFAULT_CONTENT_TYPE = "text/libsvm"  # SageMaker's XGBoost default when a channel sets none
CONTENT_TYPES = ("text/csv", "text/libsvm", "application/x-parquet")


@dataclass(frozen=True)
class Paths:
    """Where the container contract puts things, from ``SM_*`` variables or /opt/ml."""

    config: Path
    model: Path
    output: Path
    checkpoints: Path

    @classmethod
    def from_env(cls) -> Paths:
        def get(var: str, default: str) -> Path:
            return Path(os.environ.get(var) or default)

        return cls(
            config=get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config"),
            model=get("SM_MODEL_DIR", "/opt/ml/model"),
            output=get("SM_OUTPUT_DIR", "/opt/ml/output"),
            checkpoints=get("SM_CHECKPOINT_DIR", "/opt/ml/checkpoints"),
        )

    @staticmethod
    def channel(name: str) -> Path:
        return Path(os.environ.get(f"SM_CHANNEL_{name.upper()}") or f"/opt/ml/input/data/{name}")


@dataclass(frozen=True)
class Dataset:
    """Features (dense ndarray or scipy CSR) and labels read from one channel."""

    features: Any
    labels: Any


# --- reading channels -------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not valid JSON ({exc}); fix the file.") from None
    if not isinstance(value, dict):
        raise ValidationError(f"{path} must hold a JSON object; got {type(value).__name__}.")
    return value


def _content_type(config: dict[str, Any], channel: str) -> str:
    raw = (config.get(channel) or {}).get("ContentType") or DEFAULT_CONTENT_TYPE
    base = str(raw).split(";")[0].strip().lower()
    aliases = {"csv": "text/csv", "libsvm": "text/libsvm", "parquet": "application/x-parquet"}
    base = aliases.get(base, base)
    if base not in CONTENT_TYPES:
        raise ValidationError(
            f"The {channel!r} channel has content type {raw!r}, which XGBoost cannot read. "
            f"Use one of {', '.join(CONTENT_TYPES)}."
        )
    return base


def _channel_files(channel: str) -> list[Path]:
    directory = Paths.channel(channel)
    files = sorted(  # a missing folder globs to nothing; hidden files are not data
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.stat().st_size > 0
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    if not files:
        raise ValidationError(
            f"The {channel!r} channel at {directory} holds no data: "
            f"upload at least one non-empty file to its S3 prefix."
        )
    return files


def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _read_csv(path: Path) -> Dataset | None:
    import pandas as pd

    try:
        with _open_text(path) as fh:
            frame = pd.read_csv(fh, header=None, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValidationError(f"Cannot parse CSV file {path.name}: {exc}.") from None
    text = frame.apply(lambda column: column.str.strip())
    numeric = text.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & (text != "")
    if frame.shape[1] > 1 and bool(bad.iloc[0, 1:].any()):
        header_like = len(frame) == 1 or not bool(bad.iloc[1, 1:][bad.iloc[0, 1:]].any())
        if header_like:
            raise ValidationError(
                f"The CSV has a header; SageMaker's XGBoost expects none: remove it, or "
                f"write the file without one (pandas: to_csv(header=False, index=False)). "
                f"File {path.name} starts with {', '.join(frame.iloc[0, :4])}."
            )
    for row, column in zip(*bad.to_numpy().nonzero(), strict=True):
        value = frame.iat[row, column]
        if column == 0:
            raise ValidationError(
                f"Non-numeric label {value!r} in row {row + 1} of {path.name}: XGBoost reads "
                f"the label from the first column, a number; encode classes as 0..n-1."
            )
        raise ValidationError(
            f"Non-numeric value {value!r} in row {row + 1}, column {column + 1} of {path.name}: "
            f"XGBoost needs numeric features; encode it, or leave the cell empty for missing."
        )
    labels = numeric.iloc[:, 0]
    if bool(labels.isna().any()):
        row = int(labels.isna().to_numpy().nonzero()[0][0])
        raise ValidationError(
            f"Missing label in row {row + 1} of {path.name}: every row needs one."
        )
    return Dataset(numeric.iloc[:, 1:].to_numpy(dtype="float32"), labels.to_numpy("float32"))


def _read_parquet(path: Path) -> Dataset | None:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise ValidationError(f"Cannot read Parquet file {path.name}: {exc}.") from None
    if frame.empty:
        return None
    non_numeric = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValidationError(
            f"Parquet file {path.name} has non-numeric column(s) {', '.join(non_numeric)}: "
            f"XGBoost needs a numeric label (first column) and numeric features."
        )
    values = frame.to_numpy(dtype="float32")
    return Dataset(values[:, 1:], values[:, 0])


def _read_libsvm(path: Path) -> Dataset | None:
    import numpy as np
    from scipy.sparse import csr_matrix

    labels: list[float] = []
    indptr, indices, data = [0], [], []
    with _open_text(path) as fh:
        for number, line in enumerate(fh, 1):
            tokens = line.split("#", 1)[0].split()
            if not tokens:
                continue
            try:
                labels.append(float(tokens[0].split(":")[0]))
                for token in tokens[1:]:
                    key, value = token.split(":", 1)
                    if key != "qid":
                        indices.append(int(key))
                        data.append(float(value))
            except ValueError:
                raise ValidationError(
                    f"Line {number} of {path.name} is not LIBSVM ('<label> <index>:<value> ...'): "
                    f"{line.strip()[:80]!r}."
                ) from None
            indptr.append(len(indices))
    if not labels:
        return None
    width = max(indices, default=-1) + 1
    features = csr_matrix((np.asarray(data, "float32"), indices, indptr), (len(labels), width))
    return Dataset(features, np.asarray(labels, "float32"))


READERS = {
    "text/csv": _read_csv,
    "text/libsvm": _read_libsvm,
    "application/x-parquet": _read_parquet,
}


def _read_channel(channel: str, content_type: str) -> Dataset:
    import numpy as np
    import scipy.sparse as sp

    parts = [d for d in (READERS[content_type](f) for f in _channel_files(channel)) if d]
    if not parts:
        raise ValidationError(f"The {channel!r} channel holds files but no rows of {content_type}.")
    labels = np.concatenate([p.labels for p in parts])
    if content_type == "text/libsvm":
        width = max(p.features.shape[1] for p in parts)
        for p in parts:
            p.features.resize((p.features.shape[0], width))
        return Dataset(sp.vstack([p.features for p in parts]).tocsr(), labels)
    widths = {p.features.shape[1] for p in parts}
    if len(widths) > 1:
        raise ValidationError(
            f"The files of the {channel!r} channel have different numbers of columns "
            f"({sorted(widths)}); every file needs the label plus the same features."
        )
    return Dataset(np.vstack([p.features for p in parts]), labels)


# --- models, archives, checkpoints ------------------------------------------------------


def _refuse_member(member: tarfile.TarInfo) -> str | None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or re.match(r"^[A-Za-z]:[\\/]", member.name):
        return "has an absolute path"
    if ".." in name.parts or ".." in member.name.split("\\"):
        return "climbs out of the archive with '..'"
    if member.issym() or member.islnk():
        return "is a link"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder"
    if member.size > MAX_TAR_MEMBER_BYTES:
        return f"is {member.size} bytes, more than the 1 GiB limit"
    return None


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract ``archive`` after checking every member, refusing hostile ones before any write."""
    try:
        with tarfile.open(archive) as tar:
            members = []
            for member in tar:  # lazily, so a hostile header stops us before reading on
                problem = _refuse_member(member)
                if problem:
                    raise ValidationError(
                        f"Refusing model archive {archive.name}: member {member.name!r} {problem}. "
                        f"Package only the model file: tar -czf model.tar.gz {MODEL_FILENAME}."
                    )
                members.append(member)
            tar.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ValidationError(
            f"Model archive {archive.name} is not a readable tar: {exc}."
        ) from None


def _base_model(scratch: Path) -> Path | None:
    """The model to continue training from, when a ``model`` channel is present."""
    directory = Paths.channel("model")
    if not directory.is_dir():
        return None
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    named = [p for p in files if p.name == MODEL_FILENAME]
    if named:
        return named[0]
    archives = [p for p in files if p.name.endswith((".tar.gz", ".tgz", ".tar"))]
    if not archives:
        if len(files) == 1:
            return files[0]
        raise ValidationError(
            f"The 'model' channel at {directory} holds no {MODEL_FILENAME} file or model.tar.gz; "
            f"point it at the model artifact of an earlier XGBoost training job."
        )
    target = scratch / "model"
    safe_extract(archives[0], target)
    extracted = sorted(p for p in target.rglob("*") if p.is_file())
    chosen = [p for p in extracted if p.name == MODEL_FILENAME] or extracted[:1]
    if not chosen:
        raise ValidationError(f"Model archive {archives[0].name} is empty.")
    return chosen[0]


def _checkpoints(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.glob(CHECKPOINT_PREFIX + "*"):
        suffix = path.name[len(CHECKPOINT_PREFIX) :]
        if suffix.isdigit():
            found.append((int(suffix), path))
    return sorted(found)


def _save(booster: Any, path: Path) -> None:
    # Write beside the target and rename, so a job killed mid-write leaves no torn file.
    partial = path.with_name(path.name + ".partial.json")
    booster.save_model(str(partial))
    os.replace(partial, path)


def _load(path: Path) -> Any:
    import xgboost

    # From bytes, so XGBoost detects JSON or UBJSON itself whatever the file is named.
    booster = xgboost.Booster()
    booster.load_model(bytearray(path.read_bytes()))
    return booster


def _round_logger(directory: Path) -> Any:
    """An XGBoost callback printing one metric line per round and checkpointing it."""
    import xgboost

    class RoundLogger(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            rounds = model.num_boosted_rounds()
            fields = [
                f"{data}-{metric}:{float(values[-1]):.5f}"
                for data, metrics in evals_log.items()
                for metric, values in metrics.items()
            ]
            print(f"[{rounds - 1}]#011" + "#011".join(fields), flush=True)
            directory.mkdir(parents=True, exist_ok=True)
            _save(model, directory / f"{CHECKPOINT_PREFIX}{rounds}")
            for _, old in _checkpoints(directory)[:-CHECKPOINTS_KEPT]:
                old.unlink(missing_ok=True)
            return False

    return RoundLogger()


# --- the program ------------------------------------------------------------------------


def train(paths: Paths, scratch: Path) -> None:
    """Run one training job as the container contract describes; raise on bad input."""
    import xgboost

    raw = _read_json(paths.config / "hyperparameters.json")
    hp = validate_hyperparameters({k: str(v) for k, v in raw.items()})
    config = _read_json(paths.config / "inputdataconfig.json")
    has_validation = "validation" in config or Paths.channel("validation").is_dir()
    if "early_stopping_rounds" in hp and not has_validation:
        raise ValidationError(
            "The 'early_stopping_rounds' hyperparameter of XGBoost needs a 'validation' "
            "channel to watch; add one, or remove early_stopping_rounds."
        )
    train_data = _read_channel("train", _content_type(config, "train"))
    dtrain = xgboost.DMatrix(train_data.features, label=train_data.labels)
    evals = [(dtrain, "train")]
    if has_validation:
        val = _read_channel("validation", _content_type(config, "validation"))
        features = val.features
        if hasattr(features, "resize") and features.shape[1] < dtrain.num_col():
            features.resize((features.shape[0], dtrain.num_col()))
        if features.shape[1] != dtrain.num_col():
            raise ValidationError(
                f"The 'validation' channel has {features.shape[1]} features but 'train' has "
                f"{dtrain.num_col()}; both need the same columns."
            )
        evals.append((xgboost.DMatrix(features, label=val.labels), "validation"))

    # Only what the user set (plus the objective): the rest are XGBoost's own defaults, and
    # passing booster-specific ones (dart, tweedie) would only make XGBoost warn.
    params = {k: hp[k] for k in [*raw, "objective"] if k in hp and k not in NOT_BOOSTER_PARAMS}
    if not hp["objective"].startswith("multi:"):
        params.pop("num_class", None)

    start: Any = None
    base = _base_model(scratch)
    if base is not None:
        start = _load(base)
        print(f"continuing training from model {base.name}", flush=True)
    target = (start.num_boosted_rounds() if start else 0) + hp["num_round"]
    saved = _checkpoints(paths.checkpoints) if paths.checkpoints.is_dir() else []
    if saved:
        done, latest = saved[-1]
        print(f"resuming from checkpoint round {done}", flush=True)
        start = _load(latest)
    booster = start
    remaining = target - (start.num_boosted_rounds() if start else 0)
    if remaining > 0:
        booster = xgboost.train(
            params,
            dtrain,
            num_boost_round=remaining,
            evals=evals,
            xgb_model=start,
            callbacks=[_round_logger(paths.checkpoints)],
            early_stopping_rounds=hp.get("early_stopping_rounds"),
            verbose_eval=False,
        )
    paths.model.mkdir(parents=True, exist_ok=True)
    _save(booster, paths.model / MODEL_FILENAME)
    print(f"saved model with {booster.num_boosted_rounds()} rounds", flush=True)


def _fail(paths: Paths, reason: str) -> int:
    line = " ".join(reason.split())
    print(f"training failed: {line}", file=sys.stderr, flush=True)
    try:
        paths.output.mkdir(parents=True, exist_ok=True)
        (paths.output / "failure").write_text(line + "\n")
    except OSError as exc:
        print(f"could not write the failure file: {exc}", file=sys.stderr)
    return 1


def main() -> int:
    """Entry point of the training-job program: 0 on success, 1 with a failure file."""
    paths = Paths.from_env()
    try:
        from xgboost.core import XGBoostError

        with tempfile.TemporaryDirectory(prefix="sagebox-xgboost-") as scratch:
            train(paths, Path(scratch))
    except ValidationError as exc:
        return _fail(paths, exc.message)
    except XGBoostError as exc:
        return _fail(paths, f"XGBoost rejected the job: {str(exc).splitlines()[0]}")
    except Exception as exc:
        return _fail(paths, f"Internal error in the XGBoost algorithm: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
