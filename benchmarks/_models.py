"""The models the serving and transform benchmarks share: the same data, 100 trees each."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np


def _labels(x: np.ndarray) -> np.ndarray:
    score = x[:, 0] * 0.3 - x[:, -1] + 0.5 * x[:, 5] * x[:, 6]
    return (score > np.median(score)).astype(np.float64)


def train_models(features: int, folder: Path) -> dict[str, Path]:
    """The same data, 100 trees each: model.tar.gz in the built-in algorithms' formats."""
    import lightgbm
    import xgboost

    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, features)).astype(np.float32)
    y = _labels(x)
    lgb = lightgbm.train(
        {"objective": "binary", "num_leaves": 31, "verbose": -1},
        lightgbm.Dataset(x, y),
        num_boost_round=100,
    )
    xgb = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 6}, xgboost.DMatrix(x, y), 100
    )
    archives = {}
    for name, filename, payload in (
        ("lightgbm", "lightgbm-model", lgb.model_to_string().encode()),
        ("xgboost", "xgboost-model", bytes(xgb.save_raw("ubj"))),
    ):
        archive = folder / f"{name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(filename)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        archives[name] = archive
    return archives
