"""What the numpy built-ins of SageMaker's first-party algorithms (Linear Learner, k-NN) share.

- The model is numpy arrays only: one ``.npz`` written atomically and loaded with
  ``allow_pickle=False``, so a model artifact can never run code when it is loaded.
- A model scores rows of exactly the features it was trained on.
- Metrics are SageMaker's ``#quality_metric: host=algo-1, epoch=3, validation
  <metric> <loss>=0.41`` log lines, which the algorithms' metric definitions read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sagebox.algorithms.checkpoints import write_atomically
from sagebox.errors import ValidationError

__all__ = ["feature_rows", "host", "quality_metric", "reading_arrays", "save_arrays"]


def save_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """``arrays`` as one ``.npz`` at ``path``, written beside it and renamed into place."""
    import numpy as np

    def write(partial: Path) -> None:
        with partial.open("wb") as fh:
            np.savez(fh, **arrays)

    write_atomically(path, write)


@contextlib.contextmanager
def reading_arrays(path: Path, title: str) -> Iterator[Any]:
    """The arrays of the ``title`` model at ``path``; an unreadable file, or one without an
    array the body reads, is refused as not a model of that algorithm."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as saved:
            yield saved
    except (OSError, ValueError, KeyError) as exc:
        raise ValidationError(
            f"{path.name} is not a {title} model written by sagebox ({exc}); give the "
            f"model.tar.gz of a {title} training job."
        ) from None


def feature_rows(features: Any, width: int, title: str) -> Any:
    """``features`` as a 2-d array (dense), refused unless it has the model's ``width``."""
    import numpy as np

    x = features.toarray() if hasattr(features, "toarray") else np.asarray(features)
    x = np.atleast_2d(x)
    if x.shape[1] != width:
        raise ValidationError(
            f"The {title} model takes {width} features; got rows with {x.shape[1]}. "
            f"Send the feature columns the model was trained on, without the label."
        )
    return x


def host() -> str:
    """This instance's name in the job (``algo-1``, ...), as the metric lines give it."""
    return os.environ.get("SM_CURRENT_HOST") or "algo-1"


def quality_metric(
    channel: str, name: str, value: float, kind: str = "score", epoch: int | None = None
) -> None:
    """Print SageMaker's ``#quality_metric`` line for ``channel``'s ``name`` (a score or loss)."""
    at = f" epoch={epoch}," if epoch is not None else ""
    print(f"#quality_metric: host={host()},{at} {channel} {name} <{kind}>={value}", flush=True)
