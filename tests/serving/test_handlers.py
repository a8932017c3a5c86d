"""The inference contract in-process: built-in handlers, a user's inference.py, errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.serving import codecs
from sagebox.serving.errors import ModelError, ModelLoadError
from sagebox.serving.handlers import InferenceSession, RequestContext
from tests.serving import trained

ROWS = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 0.5, 2.0], [-2.0, 0.3, 0.0, 1.0]])
CSV_ROWS = b"1,2,3,4\n0,-1,0.5,2\n-2,0.3,0,1\n"
BODIES = {
    "text/csv": CSV_ROWS,
    "application/json": json.dumps({"instances": ROWS.tolist()}).encode(),
    "application/jsonlines": b"".join(json.dumps(r).encode() + b"\n" for r in ROWS.tolist()),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    made = {
        "xgboost": lambda p: trained.xgboost_model(p),
        "lightgbm": lambda p: trained.lightgbm_model(p),
        "xgboost-multiclass": lambda p: trained.xgboost_model(p, "multi:softprob"),
        "lightgbm-multiclass": lambda p: trained.lightgbm_model(p, "multiclass"),
        "lightgbm-regression": lambda p: trained.lightgbm_model(p, "regression"),
    }
    return {name: make(root / name) for name, make in made.items()}


@pytest.fixture(scope="module")
def sessions(models: dict[str, Path]) -> dict[str, InferenceSession]:
    return {name: InferenceSession(path, {}) for name, path in models.items()}


def expected(session: InferenceSession, rows: np.ndarray = ROWS) -> np.ndarray:
    """What the library itself predicts for ``rows``."""
    native = session.model.native
    if hasattr(native, "inplace_predict"):
        return np.asarray(native.inplace_predict(rows))
    return np.asarray(native.predict(rows))


def scores_of(body: bytes, content_type: str) -> np.ndarray:
    """Scores (or class probability rows) back out of a built-in response body."""
    if content_type == "text/csv":
        lines = body.decode().splitlines()
        return (
            np.array([[float(v) for v in line.split(",")] for line in lines]).squeeze(-1)
            if ("," not in lines[0])
            else np.array([[float(v) for v in line.split(",")] for line in lines])
        )
    if content_type == "application/json":
        objects = json.loads(body)["predictions"]
    else:
        objects = [json.loads(line) for line in body.decode().splitlines()]
    return np.array([o["score"] for o in objects])


# --- built-in handlers: every content type in and out ------------------------------------


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("content_type", list(BODIES))
@pytest.mark.parametrize("accept", list(BODIES))
def test_binary_models_answer_every_type_in_and_out(
    sessions: dict[str, InferenceSession], model: str, content_type: str, accept: str
) -> None:
    session = sessions[model]
    body, answered = session.invoke(BODIES[content_type], content_type, accept)
    assert answered == accept
    np.testing.assert_allclose(scores_of(body, accept), expected(session), rtol=1e-6)
    if accept == "text/csv":  # one score a line, P(class 1)
        assert body.count(b"\n") == len(ROWS) and body.endswith(b"\n")
    if accept == "application/json":
        assert set(json.loads(body)["predictions"][0]) == {"score"}


@pytest.mark.parametrize("model", ["xgboost-multiclass", "lightgbm-multiclass"])
def test_multiclass_models_give_labels_and_probabilities(
    sessions: dict[str, InferenceSession], model: str
) -> None:
    session = sessions[model]
    probabilities = expected(session)
    body, _ = session.invoke(BODIES["text/csv"], "text/csv", "application/json")
    predictions = json.loads(body)["predictions"]
    assert [p["predicted_label"] for p in predictions] == probabilities.argmax(axis=1).tolist()
    np.testing.assert_allclose([p["score"] for p in predictions], probabilities, rtol=1e-6)
    body, _ = session.invoke(BODIES["application/json"], "application/json", "text/csv")
    np.testing.assert_allclose(scores_of(body, "text/csv"), probabilities, rtol=1e-6)
    body, _ = session.invoke(BODIES["text/csv"], "text/csv", "application/jsonlines")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert [line["predicted_label"] for line in lines] == probabilities.argmax(axis=1).tolist()


def test_regression_scores_are_the_values(sessions: dict[str, InferenceSession]) -> None:
    session = sessions["lightgbm-regression"]
    body, _ = session.invoke(b"1,0,0,0\n-1,0,0,0\n", "text/csv", "text/csv")
    high, low = scores_of(body, "text/csv")
    assert high > low  # the target was 3 * the first feature + 0.5


def test_accept_missing_or_any_answers_the_request_type(
    sessions: dict[str, InferenceSession], models: dict[str, Path]
) -> None:
    session = sessions["lightgbm"]
    for content_type, body in BODIES.items():
        assert session.invoke(body, content_type, None)[1] == content_type
        assert session.invoke(body, content_type, "*/*")[1] == content_type
    # a list of types: the first one the model writes
    assert session.invoke(CSV_ROWS, "text/csv", "image/png, application/json")[1] == (
        "application/json"
    )
    configured = InferenceSession(
        models["lightgbm"], {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/jsonlines"}
    )
    assert configured.invoke(CSV_ROWS, "text/csv", None)[1] == "application/jsonlines"


def test_json_shapes_and_missing_values(sessions: dict[str, InferenceSession]) -> None:
    session = sessions["lightgbm"]
    want = expected(session)
    for document in (
        {"instances": ROWS.tolist()},
        {"instances": [{"features": row} for row in ROWS.tolist()]},
        {"instances": [{"data": {"features": {"values": row}}} for row in ROWS.tolist()]},
        ROWS.tolist(),
    ):
        body, _ = session.invoke(json.dumps(document).encode(), "application/json", "text/csv")
        np.testing.assert_allclose(scores_of(body, "text/csv"), want, rtol=1e-6)
    for document in ({"features": ROWS[0].tolist()}, ROWS[0].tolist()):  # one row
        body, _ = session.invoke(json.dumps(document).encode(), "application/json", "text/csv")
        np.testing.assert_allclose(scores_of(body, "text/csv"), want[:1], rtol=1e-6)
    # missing values: an empty CSV cell and a JSON null are NaN, as the library takes them
    missing = np.array([[1.0, np.nan, 3.0, 4.0]])
    from_csv, _ = session.invoke(b"1,,3,4\n", "text/csv", "text/csv")
    from_json, _ = session.invoke(b"[[1, null, 3, 4]]", "application/json", "text/csv")
    assert from_csv == from_json
    np.testing.assert_allclose(scores_of(from_csv, "text/csv"), expected(session, missing))


def test_large_csv_bodies_parse_like_small_ones(sessions: dict[str, InferenceSession]) -> None:
    session = sessions["lightgbm"]
    rows = np.random.default_rng(7).normal(size=(4000, 4)).round(6)
    body = "".join(",".join(map(repr, row)) + "\n" for row in rows.tolist()).encode()
    assert len(body) > codecs.LARGE_BODY
    answer, _ = session.invoke(body, "text/csv", "text/csv")
    np.testing.assert_allclose(scores_of(answer, "text/csv"), expected(session, rows), rtol=1e-6)
    lines = body.splitlines(keepends=True)
    short = b"".join([*lines[:2000], b"1,2,3\n", *lines[2001:]])
    with pytest.raises(ModelError) as info:
        session.invoke(short, "text/csv", "text/csv")
    assert info.value.status == 400
    assert "line 2001 has 3 values but line 1 has 4" in info.value.message
    # a missing last value (an empty last cell) is no short row
    missing = b"".join([*lines[:2000], b"1,2,3,\n", *lines[2001:]])
    answer, _ = session.invoke(missing, "text/csv", "text/csv")
    with_nan = rows.copy()
    with_nan[2000] = [1, 2, 3, np.nan]
    np.testing.assert_allclose(
        scores_of(answer, "text/csv"), expected(session, with_nan), rtol=1e-6
    )
    long = b"".join([*lines[:2000], b"1,2,3,4,5\n", *lines[2001:]])
    with pytest.raises(ModelError) as info:
        session.invoke(long, "text/csv", "text/csv")
    assert "line 2001 has 5 values but line 1 has 4" in info.value.message


# --- the model's own errors --------------------------------------------------------------


def failure(session: InferenceSession, body: bytes, content_type: str, accept: str) -> ModelError:
    with pytest.raises(ModelError) as info:
        session.invoke(body, content_type, accept)
    return info.value


def test_unsupported_content_type_is_415_naming_the_supported(
    sessions: dict[str, InferenceSession],
) -> None:
    error = failure(sessions["xgboost"], b"\x00\x01", "application/x-npy", "text/csv")
    assert error.status == 415
    assert "'application/x-npy'" in error.message
    assert "text/csv, application/json, application/jsonlines" in error.message


def test_unsupported_accept_is_406(sessions: dict[str, InferenceSession]) -> None:
    error = failure(sessions["xgboost"], CSV_ROWS, "text/csv", "image/png")
    assert error.status == 406 and "'image/png'" in error.message


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"f1,f2,f3,f4\n1,2,3,4\n", "text/csv", "Row 1, column 1 is 'f1', not a number"),
        (b"1,2,3,4\n1,2,3\n", "text/csv", "text/csv line 2 has 3 values but line 1 has 4"),
        (b"", "text/csv", "holds no rows"),
        (b'{"instances": [[1, 2', "application/json", "not valid JSON"),
        (b'{"rows": [[1, 2, 3, 4]]}', "application/json", "holds no rows of features"),
        (b'{"instances": [[1, 2, 3, 4], [1, 2]]}', "application/json", "instance 2 has 2 values"),
        (b'{"instances": [[1, 2, 3, 4], 7]}', "application/json", "instance 2 is 7"),
        (b"[1, 2, 3, 4]\n[1, 2, 3, 4\n", "application/jsonlines", "line 2 is not valid JSON"),
        (b"\xff\xfe1,2,3,4\n", "text/csv", "Row 1, column 1 is"),
    ],
)
def test_undecodable_bodies_are_400_naming_the_row(
    sessions: dict[str, InferenceSession], body: bytes, content_type: str, says: str
) -> None:
    error = failure(sessions["lightgbm"], body, content_type, "text/csv")
    assert error.status == 400
    assert says in error.message


@pytest.mark.parametrize("model", ["xgboost", "lightgbm"])
def test_wrong_feature_count_is_400_with_expected_and_got(
    sessions: dict[str, InferenceSession], model: str
) -> None:
    error = failure(sessions[model], b"1,2,3\n", "text/csv", "text/csv")
    assert error.status == 400
    assert f"The {model} model takes 4 features a row; got rows of 3" in error.message


# --- a user's inference.py ---------------------------------------------------------------


def with_code(model_dir: Path, tmp_path: Path, source: str, name: str = "inference.py") -> Path:
    """A copy of ``model_dir`` with ``source`` as its code/inference.py."""
    import shutil

    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    (target / "code").mkdir(exist_ok=True)
    (target / "code" / name).write_text(textwrap.dedent(source))
    return target


def test_user_functions_override_one_by_one(models: dict[str, Path], tmp_path: Path) -> None:
    model_dir = with_code(
        models["lightgbm"],
        tmp_path,
        """
        import numpy as np

        def input_fn(body, content_type):
            assert isinstance(body, str)  # text/csv reaches a user's input_fn as text
            return np.array([[float(v) for v in line.split(";")] for line in body.splitlines()])

        def predict_fn(data, model):
            import lightgbm
            assert isinstance(model, lightgbm.Booster)  # the library's own model, as SageMaker
            return model.predict(data) * 100
        """,
    )
    session = InferenceSession(model_dir, {})
    body, content_type = session.invoke(b"1;2;3;4\n0;-1;0.5;2\n", "text/csv", "application/json")
    assert content_type == "application/json"  # the default output_fn still answers
    scores = [p["score"] for p in json.loads(body)["predictions"]]
    np.testing.assert_allclose(scores, expected(session, ROWS[:2]) * 100, rtol=1e-6)


def test_user_model_fn_serves_any_model(models: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    (folder / "code").mkdir(parents=True)
    (folder / "weights.json").write_text("[0.5, 1, 0, 0]")
    (folder / "code" / "inference.py").write_text(
        textwrap.dedent(
            """
            import json, os
            import numpy as np

            class Linear:
                def __init__(self, weights):
                    self.weights = np.array(weights)
                def predict(self, x):
                    return x @ self.weights

            def model_fn(model_dir):
                with open(os.path.join(model_dir, "weights.json")) as fh:
                    return Linear(json.load(fh))
            """
        )
    )
    session = InferenceSession(folder, {})
    body, _ = session.invoke(b"2,1,9,9\n", "text/csv", "application/jsonlines")
    assert json.loads(body) == 2.0  # a framework model: the toolkit's plain encoding


def test_transform_fn_alone(models: dict[str, Path], tmp_path: Path) -> None:
    model_dir = with_code(
        models["xgboost"],
        tmp_path,
        """
        import json
        import numpy as np

        def transform_fn(model, body, content_type, accept):
            rows = np.array(json.loads(body)["rows"], dtype=float)
            return json.dumps({"p": model.inplace_predict(rows).tolist()}), "application/x-mine"
        """,
    )
    session = InferenceSession(model_dir, {})
    body, content_type = session.invoke(
        json.dumps({"rows": ROWS.tolist()}).encode(), "application/json", "application/json"
    )
    assert content_type == "application/x-mine"
    np.testing.assert_allclose(json.loads(body)["p"], expected(session), rtol=1e-6)


def test_transform_fn_with_input_fn_is_refused(models: dict[str, Path], tmp_path: Path) -> None:
    model_dir = with_code(
        models["xgboost"],
        tmp_path,
        """
        def input_fn(body, content_type): return body
        def transform_fn(model, body, content_type, accept): return body
        """,
    )
    with pytest.raises(ModelLoadError, match="transform_fn together with input_fn"):
        InferenceSession(model_dir, {})


def test_exceptions_in_user_code_are_500_with_type_and_message(
    models: dict[str, Path], tmp_path: Path
) -> None:
    model_dir = with_code(
        models["lightgbm"],
        tmp_path,
        """
        def predict_fn(data, model):
            raise ValueError(f"cannot score {len(data)} rows today")

        def output_fn(prediction, accept):
            return {"not": "bytes"}
        """,
    )
    error = failure(InferenceSession(model_dir, {}), CSV_ROWS, "text/csv", "text/csv")
    assert error.status == 500
    assert error.message == "predict_fn raised ValueError: cannot score 3 rows today"


def test_output_fn_must_return_bytes_or_text(models: dict[str, Path], tmp_path: Path) -> None:
    model_dir = with_code(
        models["lightgbm"], tmp_path, "def output_fn(prediction, accept):\n    return {1: 2}\n"
    )
    error = failure(InferenceSession(model_dir, {}), CSV_ROWS, "text/csv", "text/csv")
    assert error.status == 500 and "output_fn returned dict" in error.message


def test_handlers_may_take_the_request_context(models: dict[str, Path], tmp_path: Path) -> None:
    model_dir = with_code(
        models["lightgbm"],
        tmp_path,
        """
        def output_fn(prediction, accept, context):
            asked = context.custom_attributes
            context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", f"seen={asked}")
            return ",".join(str(round(p, 3)) for p in prediction), "text/csv"
        """,
    )
    session = InferenceSession(model_dir, {})
    assert session.wants_context
    context = RequestContext({"X-Amzn-SageMaker-Custom-Attributes": "trace=7"})
    body, _ = session.invoke(CSV_ROWS, "text/csv", "text/csv", context)
    assert body.count(b",") == 2
    assert context.response_headers == {"X-Amzn-SageMaker-Custom-Attributes": "seen=trace=7"}


def test_program_and_submit_directory(models: dict[str, Path], tmp_path: Path) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "helpers.py").write_text("FACTOR = 2.0\n")
    (code / "serve.py").write_text(
        "from helpers import FACTOR\n\n"
        "def predict_fn(data, model):\n    return model.predict(data) * FACTOR\n"
    )
    environment = {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(code)}
    session = InferenceSession(models["lightgbm"], environment)
    body, _ = session.invoke(b"1,2,3,4\n", "text/csv", "text/csv")
    np.testing.assert_allclose(float(body), expected(session, ROWS[:1])[0] * 2, rtol=1e-6)
    with pytest.raises(ModelLoadError, match=r"SAGEMAKER_PROGRAM 'nope\.py' is not in"):
        InferenceSession(models["lightgbm"], {**environment, "SAGEMAKER_PROGRAM": "nope.py"})


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("import numpy\n1 / 0\n", "raised ZeroDivisionError: division by zero"),
        ("def model_fn(model_dir):\n    raise OSError('no weights')\n", "model_fn raised OSError"),
    ],
)
def test_load_failures_say_why(
    models: dict[str, Path], tmp_path: Path, source: str, says: str
) -> None:
    with pytest.raises(ModelLoadError) as info:
        InferenceSession(with_code(models["lightgbm"], tmp_path, source), {})
    assert says in info.value.message
    assert "\n" not in info.value.message


def test_a_folder_without_a_model_says_what_to_give(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError) as info:
        InferenceSession(tmp_path / "empty", {})
    assert "No built-in algorithm's model file" in info.value.message
    assert "model_fn" in info.value.message


def test_categorical_catboost_models_take_text_cells(tmp_path: Path) -> None:
    import catboost

    rng = np.random.default_rng(0)
    colours = rng.choice(["red", "blue"], size=200)
    x = np.column_stack([rng.normal(size=200), colours]).astype(object)
    x[:, 0] = x[:, 0].astype(float)
    y = (colours == "red").astype(int)
    model: Any = catboost.CatBoostClassifier(
        iterations=20, verbose=False, thread_count=1, allow_writing_files=False
    )
    model.fit(x, y, cat_features=[1])
    model_dir = trained.packed(tmp_path, model, "catboost-model")
    session = InferenceSession(model_dir, {})
    body, _ = session.invoke(b"0.1,red\n0.1,blue\n", "text/csv", "text/csv")
    red, blue = scores_of(body, "text/csv")
    assert red > 0.5 > blue
