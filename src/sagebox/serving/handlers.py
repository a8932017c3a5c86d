"""The inference container contract: the SageMaker inference toolkit's handler functions.

A model is served by four functions, as in SageMaker's framework and built-in containers:

    model_fn(model_dir) -> model                      once, when the worker starts
    input_fn(body, content_type) -> data              per request
    predict_fn(data, model) -> prediction
    output_fn(prediction, accept) -> body | (body, content_type)

Built-in algorithms bring defaults (their model file, the codecs of
:mod:`sagebox.serving.codecs`); a user's ``inference.py`` overrides them function by
function, or replaces the last three with one ``transform_fn(model, body, content_type,
accept)``. As in the toolkit, a user function may take one more argument, the request's
:class:`RequestContext`; ``text/csv`` and ``application/json`` bodies reach a user's
``input_fn``/``transform_fn`` as ``str``, others as ``bytes``; and a user function gets
the library's own model object (an ``xgboost.Booster``, a ``lightgbm.Booster``, ...), as
the SageMaker containers' default ``model_fn`` returns it.

:class:`InferenceSession` holds one loaded model; endpoint workers and batch transform
instances both serve through it, in-process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from sagebox.serving import codecs
from sagebox.serving.errors import ModelError, ModelLoadError

__all__ = [
    "BuiltinModel",
    "Handlers",
    "InferenceSession",
    "RequestContext",
    "load_handlers",
]

HANDLER_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
_ARGUMENTS = {
    "model_fn": ("model_dir",),
    "input_fn": ("input_data", "content_type"),
    "predict_fn": ("data", "model"),
    "output_fn": ("prediction", "accept"),
    "transform_fn": ("model", "input_data", "content_type", "accept"),
}
_TEXT_TYPES = (codecs.CSV, codecs.JSON)  # decoded to str for user functions, as the toolkit does
CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"


class RequestContext:
    """One request's headers, and the headers the handlers set on its response.

    A user handler that takes a last ``context`` argument gets this: read the caller's
    ``CustomAttributes`` with ``context.custom_attributes``, and answer some with
    ``context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "...")``.
    """

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self.request_headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.response_headers: dict[str, str] = {}

    @property
    def custom_attributes(self) -> str | None:
        return self.request_headers.get(CUSTOM_ATTRIBUTES)

    def get_request_header(self, idx: int, key: str) -> str | None:
        """The request header ``key`` (the model server's batch index ``idx`` is always 0)."""
        return self.request_headers.get(key.lower())

    def set_response_header(self, idx: int, key: str, value: str) -> None:
        self.response_headers[key] = value


@dataclass(frozen=True)
class Handlers:
    """The four handler functions of a model (or ``transform_fn`` in place of the last three)."""

    model_fn: Callable[[str], Any]
    input_fn: Callable[[bytes, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], bytes | tuple[bytes, str]]
    transform_fn: Callable[..., Any] | None = None
    user: frozenset[str] = frozenset()  # the functions the user's module defines
    takes_context: frozenset[str] = frozenset()  # ... that take a RequestContext last
    source: Path | None = None  # the user's module


# --- the built-in defaults ---------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinModel:
    """A built-in algorithm's model with what the default handlers check requests against."""

    loaded: Any  # sagebox.algorithms.inference.LoadedModel
    features: int | None  # columns the model was trained on
    categorical: bool  # takes text cells (CatBoost with categorical features)

    @property
    def native(self) -> Any:
        """The library's own model object, what a user's handler functions get."""
        return self.loaded.model


def _feature_count(model: Any) -> int | None:
    for attribute in ("num_features", "num_feature"):  # xgboost, lightgbm boosters
        method = getattr(model, attribute, None)
        if callable(method):
            return int(method())
    for attribute in ("features", "feature_dim"):  # linear learner, knn
        value = getattr(model, attribute, None)
        if isinstance(value, int):
            return value
    names = getattr(model, "feature_names_", None)  # catboost
    return len(names) if names else None


def default_model_fn(model_dir: str) -> BuiltinModel:
    from sagebox.algorithms.inference import load_model
    from sagebox.errors import ValidationError

    try:
        loaded = load_model(Path(model_dir))
    except ValidationError as exc:
        raise ModelLoadError(
            f"{exc.message} Or serve another kind of model with model_fn in code/inference.py."
        ) from None
    indices = getattr(loaded.model, "get_cat_feature_indices", None)
    categorical = bool(list(indices())) if callable(indices) else False
    return BuiltinModel(loaded, _feature_count(loaded.model), categorical)


def default_input_fn(input_data: bytes, content_type: str) -> Any:
    if isinstance(input_data, str):
        input_data = input_data.encode()
    return codecs.decode(input_data, content_type)


def default_predict_fn(data: Any, model: Any) -> Any:
    if isinstance(model, BuiltinModel):
        shape = getattr(data, "shape", None)
        if shape is not None and len(shape) == 2 and model.features not in (None, shape[1]):
            raise ModelError(
                400,
                f"The {model.loaded.algorithm} model takes {model.features} features a row; "
                f"got rows of {shape[1]}. Send the feature columns it was trained on, without "
                "the label.",
            )
        if not model.categorical and shape is not None:
            cell = codecs.first_text_cell(data)
            if cell is not None:
                row, column, text = cell
                raise ModelError(
                    400,
                    f"Row {row}, column {column} is {text!r}, not a number: this "
                    f"{model.loaded.algorithm} model takes numeric features only (no header "
                    "row, no label).",
                )
        return model.loaded.predict(data)
    predict = getattr(model, "predict", None)
    if not callable(predict):
        raise ModelError(
            500,
            f"The model that model_fn returned ({type(model).__name__}) has no predict "
            "method: define predict_fn in inference.py.",
        )
    return predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return codecs.encode(prediction, accept)


def framework_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    return codecs.encode_framework(prediction, accept)


DEFAULTS = Handlers(default_model_fn, default_input_fn, default_predict_fn, default_output_fn)


# --- the user's inference.py -------------------------------------------------------------


def _code_location(model_dir: Path, environment: Mapping[str, str]) -> tuple[Path, str, bool]:
    """(folder, program, named): where the user's module would be, and whether it is named."""
    program = environment.get("SAGEMAKER_PROGRAM", "").strip()
    submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip()
    folder = model_dir / "code"
    if submit and not submit.startswith("s3://") and not submit.endswith(".tar.gz"):
        local = Path(submit.removeprefix("file://"))
        # The SageMaker SDK points at the literal /opt/ml/model/code of its repacked models.
        if local.is_relative_to("/opt/ml/model") and not local.exists():
            local = model_dir / local.relative_to("/opt/ml/model")
        folder = local
    return folder, program or "inference.py", bool(program)


def _import_user_module(path: Path) -> ModuleType:
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the module may import its neighbours
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"{path} cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        raise ModelLoadError(
            f"Importing {path} raised {type(exc).__name__}: {exc}. Fix the module."
        ) from exc
    return module


def _takes_context(name: str, function: Callable[..., Any], path: Path) -> bool:
    expected = len(_ARGUMENTS[name])
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return False
    required = sum(1 for p in parameters if p.default is inspect.Parameter.empty)
    if len(parameters) == expected + 1 and required == expected + 1:
        return True
    if required <= expected <= len(parameters):
        return False
    raise ModelLoadError(
        f"{name} in {path} takes {len(parameters)} arguments; the model server calls it with "
        f"({', '.join(_ARGUMENTS[name])}), or with a request context as one more argument."
    )


def load_handlers(model_dir: Path, environment: Mapping[str, str]) -> Handlers:
    """The model's handlers: the built-in defaults, overridden by the user's inference.py.

    The user's module is ``model_dir/code/inference.py``, or ``SAGEMAKER_PROGRAM`` inside
    ``SAGEMAKER_SUBMIT_DIRECTORY`` (a local folder; an ``s3://`` source tarball must already
    be staged into ``model_dir/code``). Raises :class:`ModelLoadError`.
    """
    folder, program, named = _code_location(Path(model_dir), environment)
    path = folder / program
    if not path.is_file():
        if named:
            raise ModelLoadError(
                f"SAGEMAKER_PROGRAM {program!r} is not in {folder}. Put the module in the "
                "model's code/ folder (or SAGEMAKER_SUBMIT_DIRECTORY), or correct its name."
            )
        return DEFAULTS
    module = _import_user_module(path)
    found = {n: f for n in HANDLER_NAMES if callable(f := getattr(module, n, None))}
    if "transform_fn" in found and found.keys() & {"input_fn", "predict_fn", "output_fn"}:
        raise ModelLoadError(
            f"{path} defines transform_fn together with "
            f"{', '.join(sorted(found.keys() & {'input_fn', 'predict_fn', 'output_fn'}))}: "
            "define either transform_fn alone, or input_fn/predict_fn/output_fn."
        )
    context = frozenset(n for n, f in found.items() if _takes_context(n, f, path))
    return Handlers(
        model_fn=found.get("model_fn", DEFAULTS.model_fn),
        input_fn=found.get("input_fn", DEFAULTS.input_fn),
        predict_fn=found.get("predict_fn", DEFAULTS.predict_fn),
        output_fn=found.get("output_fn", DEFAULTS.output_fn),
        transform_fn=found.get("transform_fn"),
        user=frozenset(found),
        takes_context=context,
        source=path,
    )


@contextlib.contextmanager
def _hidden_modules(*names: str) -> Iterator[None]:
    """Imports of ``names`` (not imported yet) fail while this lasts."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


# --- one loaded model --------------------------------------------------------------------


@dataclass
class _Plan:
    """How each request calls the handlers, decided once when the model is loaded."""

    user_model: Any  # what the user's functions get
    decode_text: bool  # str bodies for a user's input_fn / transform_fn
    context: frozenset[str] = field(default_factory=frozenset)


class InferenceSession:
    """A model loaded once, answering requests with its handlers. Not thread-safe: a
    worker serves one request at a time through it."""

    def __init__(
        self,
        model_dir: Path,
        environment: Mapping[str, str],
        *,
        memory_limit_mb: int | None = None,
        lean_imports: bool = False,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.memory_limit_mb = memory_limit_mb
        self.default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "")
        self.handlers = load_handlers(self.model_dir, environment)
        started = time.perf_counter()
        # A built-in model with no user code is scored with numpy arrays only: its library
        # is imported without its scikit-learn and pandas integrations, which take seconds
        # to import (a serverless cold start's budget is 1.5 s). Only for a process of its
        # own (a worker): the library stays that way for the life of the process.
        lean = lean_imports and not self.handlers.user
        with _hidden_modules("sklearn", "pandas") if lean else contextlib.nullcontext():
            self.model = self._load()
        self.load_seconds = time.perf_counter() - started
        if not isinstance(self.model, BuiltinModel) and "output_fn" not in self.handlers.user:
            # a model of the user's own model_fn: the framework containers' encoders
            self.handlers = replace(self.handlers, output_fn=framework_output_fn)
        h = self.handlers
        user = h.user
        native = self.model.native if isinstance(self.model, BuiltinModel) else self.model
        self._plan = _Plan(
            user_model=native,
            decode_text=bool(user & {"input_fn", "transform_fn"}),
            context=h.takes_context,
        )
        self.wants_context = bool(h.takes_context)
        self._predict_model = native if "predict_fn" in user else self.model

    def _load(self) -> Any:
        function = self.handlers.model_fn
        try:
            if "model_fn" in self.handlers.takes_context:
                return function(str(self.model_dir), RequestContext())  # type: ignore[call-arg]
            return function(str(self.model_dir))
        except ModelLoadError:
            raise
        except MemoryError:
            raise ModelLoadError(
                f"Loading the model from {self.model_dir} ran out of memory{self._limit()}. "
                "Give it more memory (a larger instance type or MemorySizeInMB)."
            ) from None
        except (Exception, SystemExit) as exc:
            where = "model_fn" if "model_fn" in self.handlers.user else "Loading the model"
            raise ModelLoadError(
                f"{where} raised {type(exc).__name__}: {exc} (model_dir {self.model_dir})."
            ) from exc

    def _limit(self) -> str:
        if self.memory_limit_mb is None:
            return ""
        return f" (the worker is limited to {self.memory_limit_mb} MB)"

    def resolve_accept(self, accept: str | None, content_type: str) -> str:
        """A missing or ``*/*`` Accept: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else the
        request's own content type."""
        if accept and accept.strip() != "*/*":
            return accept
        return self.default_accept or content_type or codecs.JSON

    def invoke(
        self,
        body: bytes,
        content_type: str,
        accept: str | None,
        context: RequestContext | None = None,
    ) -> tuple[bytes, str]:
        """Answer one request: (response body, its content type). Raises :class:`ModelError`."""
        accept = self.resolve_accept(accept, content_type)
        stage = "input_fn"
        try:
            plan = self._plan
            h = self.handlers
            if plan.context and context is None:
                context = RequestContext()
            data: Any = body
            if plan.decode_text and codecs.media_type(content_type) in _TEXT_TYPES:
                stage = "decoding the body"
                data = body.decode("utf-8")
                stage = "input_fn"
            if h.transform_fn is not None:
                stage = "transform_fn"
                args: tuple[Any, ...] = (plan.user_model, data, content_type, accept)
                if "transform_fn" in plan.context:
                    args += (context,)
                result = h.transform_fn(*args)
            else:
                if "input_fn" in plan.context:
                    data = h.input_fn(data, content_type, context)  # type: ignore[call-arg]
                else:
                    data = h.input_fn(data, content_type)
                stage = "predict_fn"
                if "predict_fn" in plan.context:
                    prediction = h.predict_fn(data, self._predict_model, context)  # type: ignore[call-arg]
                else:
                    prediction = h.predict_fn(data, self._predict_model)
                stage = "output_fn"
                if "output_fn" in plan.context:
                    result = h.output_fn(prediction, accept, context)  # type: ignore[call-arg]
                else:
                    result = h.output_fn(prediction, accept)
        except ModelError:
            raise
        except UnicodeDecodeError as exc:
            raise ModelError(
                400, f"The {content_type} body is not UTF-8 text ({exc}). Send UTF-8."
            ) from None
        except MemoryError as exc:
            raise ModelError(
                500,
                f"The model ran out of memory in {stage}{self._limit()}: MemoryError {exc}. "
                "Send fewer rows a request, or give the model more memory (a larger instance "
                "type or MemorySizeInMB).",
            ) from None
        except Exception as exc:
            raise ModelError(500, f"{stage} raised {type(exc).__name__}: {exc}") from exc
        return self._response(result, accept)

    @staticmethod
    def _response(result: Any, accept: str) -> tuple[bytes, str]:
        content_type = accept.split(",", 1)[0].strip()
        if isinstance(result, tuple) and len(result) == 2:
            result, content_type = result
        if isinstance(result, bytes):
            return result, content_type
        if isinstance(result, str):
            return result.encode(), content_type
        if isinstance(result, bytearray | memoryview):
            return bytes(result), content_type
        raise ModelError(
            500,
            f"output_fn returned {type(result).__name__}; return bytes or str, or a "
            "(body, content_type) tuple.",
        )
