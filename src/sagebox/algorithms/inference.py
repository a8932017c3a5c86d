"""Loading a built-in algorithm's model artifact and scoring data with it.

``load_model`` takes what a training job wrote (``model.tar.gz`` or the folder it
unpacks to), finds which algorithm made it by the model file inside, and returns a
:class:`LoadedModel` whose ``predict`` gives the scores that algorithm's evaluation and
endpoints use: P(class 1) for binary classifiers, class probabilities for multiclass,
values for regression. Evaluation, endpoints and batch transform share it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sagebox.algorithms import ALGORITHMS, algorithm
from sagebox.algorithms.archive import ARCHIVE_SUFFIXES, safe_extract
from sagebox.errors import ValidationError

__all__ = ["LoadedModel", "load_model", "model_modules"]


@dataclass(frozen=True)
class LoadedModel:
    algorithm: str
    module: ModuleType
    model: Any
    problem: str | None  # "binary" | "multiclass" | "regression" | None (margins, ranking)

    def predict(self, features: Any) -> Any:
        return self.module.predict(self.model, features)


def _find(directory: Path) -> tuple[str, ModuleType] | None:
    """The algorithm whose model file is in ``directory`` (name and module), if any."""
    names = {p.name for p in directory.rglob("*") if p.is_file()}
    for name in ALGORITHMS:
        try:
            module = algorithm(name)
        except ModuleNotFoundError:  # registered, but its module or library is not here
            continue
        if getattr(module, "MODEL_FILENAME", None) in names:
            return name, module
    return None


def model_modules(directory: Path) -> list[str]:
    """What a process serving the model in ``directory`` imports: its algorithm's module
    and that algorithm's library (xgboost, lightgbm, catboost); none for other models. Fork
    servers import these before they fork workers."""
    import importlib.util

    found = _find(directory)
    if found is None:
        return []
    name, module = found
    library = [name] if importlib.util.find_spec(name) is not None else []
    return [module.__name__, *library]


def _identify(directory: Path) -> tuple[str, ModuleType]:
    found = _find(directory)
    if found is not None:
        return found
    names = {p.name for p in directory.rglob("*") if p.is_file()}
    raise ValidationError(
        f"No built-in algorithm's model file in {directory} (found {sorted(names)[:5]}). "
        f"Give the model.tar.gz that a training job of a built-in algorithm wrote."
    )


def load_model(path: Path) -> LoadedModel:
    """The model in ``path`` (a model.tar.gz or an extracted folder), ready to predict."""
    path = Path(path)
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        with tempfile.TemporaryDirectory(prefix="sagebox-model-") as scratch:
            safe_extract(path, Path(scratch))
            return load_model(Path(scratch))
    if not path.is_dir():
        raise ValidationError(
            f"Model {path} is neither a model.tar.gz nor a folder; give the ModelArtifacts "
            "of a training job."
        )
    name, module = _identify(path)
    model_file = next(p for p in path.rglob(module.MODEL_FILENAME))
    model = module.load_model(model_file.parent)
    return LoadedModel(name, module, model, module.problem_type(model))
