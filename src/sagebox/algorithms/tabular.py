"""What SageMaker's tabular gradient-boosting built-ins (LightGBM, CatBoost) share.

- ``categorical_index.json`` in the ``train`` channel: ``{"cat_index_list": [1, 5]}``, CSV
  column indices of categorical features (0 is the label, so features start at 1).
- Reading the channels with that file left out, each as wide as ``train``, and with
  categorical CSV columns kept as strings for an algorithm that takes them (CatBoost).
- The problem type (binary / multiclass / regression) when the objective is ``auto``:
  integer labels 0..19 are classes (0 and 1 only: binary), anything else is a target value.
- One metric line per boosting round, validation first so that SageMaker's documented
  regexes (``"auc: ([0-9\\.]+)"``) pick the validation value, and the definitions that read it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sagebox.algorithms import channels
from sagebox.errors import ValidationError

__all__ = [
    "CATEGORICAL_INDEX",
    "MAX_CLASSES",
    "as_categories",
    "canonical_category",
    "categorical_index",
    "check_categorical",
    "check_labels",
    "check_probabilities",
    "class_count",
    "infer_problem",
    "metric_definitions",
    "metric_line",
    "read",
    "read_channels",
]

CATEGORICAL_INDEX = "categorical_index.json"
MAX_CLASSES = 20
MAX_EXPLICIT_CLASSES = 1000
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


# --- categorical_index.json --------------------------------------------------------------


def categorical_index(who: str, channel: str = "train") -> list[int]:
    """Feature indices (0-based, label excluded) named by the channel's categorical_index.json."""
    directory = channels.channel_dir(channel)
    found = sorted(directory.rglob(CATEGORICAL_INDEX)) if directory.is_dir() else []
    if not found:
        return []
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(directory)) for p in found)
        raise ValidationError(
            f"The {channel!r} channel holds {len(found)} {CATEGORICAL_INDEX} files ({names}); "
            f"{who} reads exactly one: keep one beside the data."
        )
    path = found[0]
    example = '{"cat_index_list": [1, 5]}'
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"{CATEGORICAL_INDEX} in the {channel!r} channel is not valid JSON ({exc}); "
            f"write it like {example}."
        ) from None
    values = document.get("cat_index_list") if isinstance(document, dict) else None
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ValidationError(
            f"{CATEGORICAL_INDEX} in the {channel!r} channel must hold a list of integer column "
            f"indices under 'cat_index_list', like {example}. Got {json.dumps(document)[:120]}."
        )
    bad = [v for v in values if v < 1]
    if bad:
        raise ValidationError(
            f"{CATEGORICAL_INDEX} lists column {bad[0]}: categorical columns are CSV column "
            f"indices from 1 (column 0 is the label). Got {values}."
        )
    if len(set(values)) != len(values):
        raise ValidationError(
            f"{CATEGORICAL_INDEX} lists a column more than once; list each categorical column "
            f"once. Got {values}."
        )
    return sorted(v - 1 for v in values)


def check_categorical(features: Sequence[int], width: int, who: str) -> None:
    """Refuse categorical columns beyond the data's last column."""
    beyond = [f + 1 for f in features if f >= width]
    if beyond:
        raise ValidationError(
            f"{CATEGORICAL_INDEX} lists column {beyond[0]}, but the training data has only "
            f"{width + 1} columns (the label and {width} features); {who} needs indices from 1 "
            f"to {width}."
        )


# --- reading channels --------------------------------------------------------------------


def _csv_with_text(path: Any, who: str, text: Sequence[int]) -> channels.Dataset | None:
    """A CSV file whose ``text`` columns (CSV indices) stay strings; the rest are checked
    as numbers by the channel reader's own rules (header, non-numeric values, labels)."""
    import numpy as np
    import pandas as pd

    # channels' helpers are package-private; reusing them keeps one set of rules and messages.
    with channels.open_text(path) as fh:
        try:
            frame = pd.read_csv(fh, header=None, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            return None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValidationError(f"Cannot parse CSV file {path.name}: {exc}.") from None
    check_categorical([c - 1 for c in text], frame.shape[1] - 1, who)
    columns = list(text)
    blanked = frame.copy()
    for column in columns:
        blanked[column] = ""  # an empty cell is a missing number: the checks pass over it
    numeric = channels.csv_dataset(blanked, path.name, who, 0)
    features = numeric.features.astype(object)
    for column in columns:
        features[:, column - 1] = np.asarray(frame[column].str.strip(), dtype=object)
    return channels.Dataset(features, numeric.labels)


def read(
    config: dict[str, Any],
    name: str,
    who: str,
    default_content: str,
    text_features: Sequence[int] = (),
) -> channels.Dataset:
    """All rows of channel ``name``, without its categorical_index.json.

    ``text_features`` (feature indices) stay strings when the channel is CSV; other
    content types read them as numbers.
    """
    content = channels.content_type(config, name, who, default_content)
    sources = [p for p in channels.channel_sources(name) if p.name != CATEGORICAL_INDEX]
    if not sources:
        raise ValidationError(
            f"The {name!r} channel holds only {CATEGORICAL_INDEX} and no data: upload the "
            f"data files beside it."
        )
    if text_features and content == "text/csv":
        text = [f + 1 for f in text_features]
        parts = [d for p in sources if (d := _csv_with_text(p, who, text)) is not None]
    else:
        parts = [channels.read_file(p, content, who) for p in sources]
    if not parts:
        raise ValidationError(f"The {name!r} channel holds files but no rows of {content}.")
    return channels.combine(parts, content, f"the {name!r} channel")


def read_channels(
    config: dict[str, Any],
    who: str,
    default_content: str,
    categorical: Sequence[int],
    text_features: Sequence[int] = (),
) -> dict[str, channels.Dataset]:
    """``train`` and, when the job has them, ``validation`` and ``test``, all as wide as
    ``train``, after checking that the ``categorical`` features are within that width."""
    data = {"train": read(config, "train", who, default_content, text_features)}
    for name in ("validation", "test"):
        if channels.has_channel(name, config):
            data[name] = read(config, name, who, default_content, text_features)
    width = data["train"].features.shape[1]
    check_categorical(categorical, width, who)
    for name, part in data.items():
        channels.match_width(part, width, name)
    return data


def canonical_category(value: Any) -> str:
    """One spelling per category: "3", "3.0" and 3.0 are all "3"; missing is ""."""
    if value is None:
        return ""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return text
    if number.is_integer():
        return str(int(number))
    return f"{number:.7g}"  # what a float32 round trip still distinguishes


def as_categories(features: Any, columns: Sequence[int]) -> Any:
    """``features`` as an object array whose ``columns`` hold canonical category strings."""
    import numpy as np

    if hasattr(features, "toarray"):
        features = features.toarray()
    data = np.array(features, dtype=object)
    if data.ndim != 2:
        raise ValidationError(f"Expected a 2-d table of features; got shape {data.shape}.")
    for column in columns:
        cache: dict[Any, str] = {}
        values = data[:, column]
        for row, value in enumerate(values):
            key = value if isinstance(value, str) else repr(value)
            spelled = cache.get(key)
            if spelled is None:
                spelled = cache[key] = canonical_category(value)
            values[row] = spelled
    return data


# --- the problem a model solves ----------------------------------------------------------


def infer_problem(labels: Any) -> tuple[str, int]:
    """("binary", 2), ("multiclass", k) or ("regression", 1) from the label values."""
    import numpy as np

    values = np.unique(np.asarray(labels, dtype="float64"))
    classes = (
        values.size > 0
        and bool(np.all(values == np.round(values)))
        and values.min() >= 0
        and values.max() < MAX_CLASSES
    )
    if not classes:
        return "regression", 1
    top = int(values.max())
    return ("binary", 2) if top <= 1 else ("multiclass", top + 1)


def class_count(labels: Iterable[Any], who: str) -> int:
    """The number of classes labels 0..n-1 imply, for an explicit multiclass objective."""
    import numpy as np

    top = max((float(np.max(part)) for part in labels if len(part)), default=1.0)
    if top >= MAX_EXPLICIT_CLASSES:
        raise ValidationError(
            f"The largest label is {top:g}: {who} reads class labels as 0..n-1, so that would "
            f"be {int(top) + 1} classes (at most {MAX_EXPLICIT_CLASSES}). Encode the classes as "
            f"0..n-1, or choose a regression objective."
        )
    return max(int(top), 1) + 1


def check_probabilities(labels: Any, channel: str, who: str, objective: str) -> None:
    """Labels of a cross-entropy objective are probabilities in [0, 1]."""
    import numpy as np

    values = np.asarray(labels, dtype="float64")
    outside = (values < 0) | (values > 1)
    if bool(outside.any()):
        value = float(values[outside.nonzero()[0][0]])
        raise ValidationError(
            f"The {channel!r} channel has label {value:g}, but {who}'s objective {objective!r} "
            f"takes probabilities in [0, 1] as labels."
        )


def check_labels(labels: Any, problem: str, num_class: int, channel: str, who: str) -> None:
    """Classification labels must be the integers 0..num_class-1."""
    import numpy as np

    if problem == "regression":
        return
    values = np.asarray(labels, dtype="float64")
    bad = ~((values == np.round(values)) & (values >= 0) & (values < num_class))
    if bool(bad.any()):
        value = values[bad.nonzero()[0][0]]
        shown = int(value) if float(value).is_integer() else float(value)
        raise ValidationError(
            f"The {channel!r} channel has label {shown}, but {who} is training a {problem} "
            f"model with {num_class} classes: labels must be the integers 0..{num_class - 1}. "
            f"Encode the classes as 0..n-1, or set the objective for a numeric target."
        )


# --- metric lines --------------------------------------------------------------------------


def metric_line(rounds: int, values: Iterable[tuple[str, str, float]]) -> str:
    """``[rounds]<TAB>validation's auc: 0.91<TAB>train's auc: 0.95``, validation first."""
    ordered = sorted(values, key=lambda v: v[0] != "validation")
    fields = (f"\t{data}'s {metric}: {_number(value)}" for data, metric, value in ordered)
    return f"[{rounds}]" + "".join(fields)


def _number(value: float) -> str:
    # Plain decimals where possible: SageMaker's documented regexes read [0-9.]+ only.
    if value == 0 or 1e-4 <= abs(value) < 1e15:
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return f"{value:.6g}"


def _regex(data: str, metric: str) -> str:
    # No leading ".*": log lines are searched with every definition, and this fails fast.
    return rf"\[[0-9]+\]\t(?:.*\t)?{data}'s {re.escape(metric)}: {_NUMBER}"


def metric_definitions(
    metrics: Iterable[str], sagemaker_names: Iterable[str]
) -> list[dict[str, str]]:
    """``train:<m>`` and ``validation:<m>`` for each metric, plus SageMaker's documented bare
    names (``auc``, ``AUC``) reading the validation value."""
    metrics = list(metrics)
    definitions = [
        {"Name": f"{data}:{metric}", "Regex": _regex(data, metric)}
        for data in ("train", "validation")
        for metric in metrics
    ]
    definitions += [{"Name": name, "Regex": _regex("validation", name)} for name in sagemaker_names]
    return definitions
