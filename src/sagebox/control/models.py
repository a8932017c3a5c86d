"""SageMaker models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model is one inference container: an image (a built-in algorithm, whose handlers
serve its model file, or a framework image, which serves the user's ``inference.py``
named by ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY`` as the SageMaker SDK
sets them), its model data in S3, and its environment. Creating one checks what AWS
checks: the image, the execution role (``iam:PassRole``, trust) and that the role can
read the model data. A container may also name a registered model package
(``ModelPackageName``), resolved through :mod:`sagebox.control.model_packages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.control import resources
from sagebox.control.context import Context
from sagebox.control.execution_role import check_execution_role
from sagebox.errors import AccessDenied, ResourceNotFound, ValidationError
from sagebox.home import Home
from sagebox.runtime.images import resolve_image
from sagebox.serving.deployment import ModelSpec
from sagebox.store.metadata.documents import jsonable
from sagebox.store.objects import ObjectStore, parse_s3_uri

MODEL = resources.ResourceKind(
    kind="model",
    title="model",
    name_field="ModelName",
    arn_field="ModelArn",
    list_hint="ListModels",
)
SUMMARY_FIELDS = ("ModelName", "ModelArn", "CreationTime")
PROGRAM = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
RESOLVED = "_Container"  # the container as served (a package's resolved); not in Describe


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["ModelName"]
    given = _one_container(request)
    container = _resolve(ctx.home, given)
    image = container.get("Image")
    if not image:
        raise ValidationError(
            "The model's container has no Image. Set PrimaryContainer.Image to a SageMaker "
            "image URI (sagebox.image_uris.retrieve(...)) or a short name such as "
            "'sagebox/xgboost', or set ModelPackageName."
        )
    entry = resolve_image(image).entry
    if container.get("Mode", "SingleModel") != "SingleModel":
        raise ValidationError(
            f"Container Mode {container['Mode']!r} (multi-model endpoints) is not supported "
            "by sagebox; use 'SingleModel' and one model per endpoint variant."
        )
    environment = dict(container.get("Environment") or {})
    program = environment.get(PROGRAM)
    data = model_data(container)
    if entry.kind == "algorithm" and not program and data is None:
        raise ValidationError(
            f"The image {image!r} serves the model file a training job of its algorithm "
            "wrote, so the container needs ModelDataUrl (the job's "
            "ModelArtifacts.S3ModelArtifacts). Or set SAGEMAKER_PROGRAM to serve your own "
            "inference.py."
        )
    if program or entry.kind == "framework":
        from sagebox.runtime.script_mode import missing_framework

        missing = missing_framework(entry.requires)
        if missing:
            raise ValidationError(f"{missing} (the image {image!r} serves with it).")
    role = request.get("ExecutionRoleArn")
    session = check_execution_role(ctx, role) if role else None
    store = _reader(ctx, session, role)
    if data is not None:
        _check_readable(store, data[0], data[1], role, "model data")
    submit = environment.get(SUBMIT_DIRECTORY, "")
    if submit.startswith("s3://"):
        _check_readable(store, submit, not submit.endswith("/"), role, "source directory")

    now = ctx.now()
    arn = MODEL.arn(ctx.home, name)
    document = {
        **jsonable({k: v for k, v in request.items() if k != "Tags"}),
        "ModelArn": arn,
        "CreationTime": now.isoformat(),
        "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
        RESOLVED: jsonable(container),
    }
    resources.create(ctx.home, MODEL, name, None, document, request.get("Tags"), now)
    return {"ModelArn": arn}


def describe(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return resources.describe(ctx.home, MODEL, request["ModelName"])


def list_models(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return resources.list_page(ctx.home, MODEL, request, "Models", SUMMARY_FIELDS)


def delete(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Delete the model. Endpoints already serving it go on serving (AWS does the same):
    what an endpoint serves was fixed when it was created or updated."""
    name = request["ModelName"]
    resources.get(ctx.home, MODEL, name)
    ctx.home.metadata.delete(MODEL.kind, name)
    return {}


def model_spec(home: Home, name: str) -> ModelSpec:
    """The model ``name`` as an endpoint serves it; AWS's message when it does not exist."""
    record = resources.get(home, MODEL, name)
    doc = record.document
    container = doc[RESOLVED]
    data = model_data(container)
    return ModelSpec(
        name=name,
        arn=record.arn,
        image=container["Image"],
        model_data=data[0] if data else None,
        compressed=data[1] if data else True,
        environment=dict(container.get("Environment") or {}),
        role_arn=doc.get("ExecutionRoleArn"),
        network_isolation=bool(doc.get("EnableNetworkIsolation", False)),
    )


def model_data(container: Mapping[str, Any]) -> tuple[str, bool] | None:
    """Where a container's model data is: (S3 URI, compressed?), or None without any.

    ``ModelDataUrl`` and ``ModelDataSource`` with ``Gzip`` name a model.tar.gz;
    ``ModelDataSource`` with ``CompressionType`` None names a prefix of plain files.
    """
    url = container.get("ModelDataUrl")
    source = container.get("ModelDataSource")
    if url and source:
        raise ValidationError(
            "The container sets both ModelDataUrl and ModelDataSource; give only one."
        )
    if url:
        parse_s3_uri(url)
        return url, True
    if not source:
        return None
    s3 = source.get("S3DataSource")
    if not s3:
        raise ValidationError(
            "ModelDataSource needs S3DataSource (sagebox reads model data from S3)."
        )
    uri, data_type, compression = s3["S3Uri"], s3["S3DataType"], s3["CompressionType"]
    parse_s3_uri(uri)
    if compression == "Gzip":
        if data_type != "S3Object":
            raise ValidationError(
                f"ModelDataSource.S3DataSource: CompressionType 'Gzip' names one model.tar.gz "
                f"object, so S3DataType must be 'S3Object'; got {data_type!r}."
            )
        return uri, True
    if data_type != "S3Prefix" or not uri.endswith("/"):
        raise ValidationError(
            "ModelDataSource.S3DataSource: uncompressed model data (CompressionType 'None') "
            f"is a prefix of files: set S3DataType 'S3Prefix' and end S3Uri with '/'; got "
            f"{data_type!r} and {uri!r}."
        )
    return uri, False


def _one_container(request: Mapping[str, Any]) -> dict[str, Any]:
    primary = request.get("PrimaryContainer")
    containers = request.get("Containers") or []
    if primary and containers:
        raise ValidationError(
            "Give either PrimaryContainer or Containers, not both (they describe the same "
            "container)."
        )
    if not primary and not containers:
        raise ValidationError(
            "A model needs a container: set PrimaryContainer with Image and ModelDataUrl "
            "(or ModelPackageName)."
        )
    if len(containers) > 1:
        raise ValidationError(
            f"Containers lists {len(containers)} containers: an inference pipeline, which "
            "sagebox does not support. Give one container (do the preprocessing in the "
            "model's inference.py input_fn)."
        )
    return dict(primary or containers[0])


def _resolve(home: Home, container: dict[str, Any]) -> dict[str, Any]:
    package = container.get("ModelPackageName")
    if not package:
        return container
    if container.get("Image") or container.get("ModelDataUrl"):
        raise ValidationError(
            "A container with ModelPackageName takes its Image and ModelDataUrl from the "
            "model package; remove Image and ModelDataUrl, or remove ModelPackageName."
        )
    from sagebox.control.model_packages import resolve_container

    resolved = dict(resolve_container(home, package))
    environment = {**(resolved.get("Environment") or {}), **(container.get("Environment") or {})}
    return {**resolved, "Environment": environment, "ModelPackageName": package}


def _reader(ctx: Context, session: str | None, role: str | None) -> ObjectStore:
    """The object store as the model's role sees it (as the caller without a role)."""
    from sagebox.control.job_access import CallerObjects, RoleObjectStore

    if session and role:
        return RoleObjectStore(ctx.home, session, role)
    return CallerObjects(ctx.home, ctx.principal, ctx.authorizer)


def _check_readable(
    store: ObjectStore, uri: str, is_object: bool, role: str | None, what: str
) -> None:
    parsed = parse_s3_uri(uri)
    who = f"the role {role}" if role else "the caller"
    try:
        if is_object:
            store.head_object(parsed.bucket, parsed.key)
            return
        if store.list_objects(parsed.bucket, parsed.key, max_keys=1).objects:
            return
    except AccessDenied as denied:
        raise ValidationError(
            f"Could not access {what} at {uri}: {who} may not read it ({denied.message}). "
            "Grant s3:GetObject (and s3:ListBucket) on it to the role."
        ) from None
    except ResourceNotFound:
        pass
    raise ValidationError(
        f"Could not find {what} at {uri}. Check the URI (a training job's "
        "ModelArtifacts.S3ModelArtifacts), or upload it first."
    )
