"""One registry from an image URI to what sagebox runs for it.

``AppSpecification.ImageUri`` / ``AlgorithmSpecification.TrainingImage`` may be an AWS
ECR URI of a SageMaker image (``683313688378.dkr.ecr.us-east-1.amazonaws.com/
sagemaker-scikit-learn:1.2-1-cpu-py3``) or a short name (``sagebox/sklearn``). Each
registry row names the ECR repository, the short name, and what runs: a framework
image runs the user's program in the platform's Python; built-in algorithm rows are
added by later capabilities with one line each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sagebox.errors import ValidationError

ImageKind = Literal["framework", "algorithm"]


@dataclass(frozen=True)
class ImageEntry:
    name: str  # what image_uris.retrieve() calls it: "sklearn"
    repository: str  # ECR repository name
    kind: ImageKind
    versions: tuple[str, ...]
    tag_suffix: str = "-cpu-py3"
    module: str | None = None  # for algorithms: the module that implements it
    accounts: str = "framework"  # which table of ECR accounts hosts it ("framework"/"algorithm")
    # Script mode (docs/script-mode.md): the image runs a user's training script when the
    # hyperparameter sagemaker_program is set (framework images always need one).
    script_mode: bool = False
    requires: str | None = None  # the module a script-mode job needs installed: "torch"
    # Deep Learning Container tags, "<full version>-<cpu|gpu>-<py version>": 2.1.0-cpu-py310
    py_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResolvedImage:
    uri: str
    entry: ImageEntry
    version: str | None


REGISTRY: tuple[ImageEntry, ...] = (
    ImageEntry(
        name="sklearn",
        repository="sagemaker-scikit-learn",
        kind="framework",
        versions=("0.20.0", "0.23-1", "1.0-1", "1.2-1"),
        script_mode=True,
        requires="sklearn",
    ),
    ImageEntry(
        name="xgboost",
        repository="sagemaker-xgboost",
        kind="algorithm",
        versions=("1.5-1", "1.7-1"),
        tag_suffix="",
        module="sagebox.algorithms.xgboost",
        script_mode=True,
        requires="xgboost",
    ),
    ImageEntry(
        name="pytorch",
        repository="pytorch-training",
        kind="framework",
        versions=("1.13.1", "2.0.1", "2.1.0", "2.2.0", "2.3.0"),
        tag_suffix="",
        accounts="dlc",
        script_mode=True,
        requires="torch",
        py_versions=("py38", "py39", "py310", "py311"),
    ),
    ImageEntry(
        name="linear-learner",
        repository="linear-learner",
        kind="algorithm",
        versions=("1",),
        tag_suffix="",
        module="sagebox.algorithms.linear_learner",
        accounts="algorithm",
    ),
    ImageEntry(
        name="knn",
        repository="knn",
        kind="algorithm",
        versions=("1",),
        tag_suffix="",
        module="sagebox.algorithms.knn",
        accounts="algorithm",
    ),
    # SageMaker ships LightGBM and CatBoost as JumpStart scripts, not ECR images of their
    # own; sagebox names them by short name (sagebox/lightgbm) and these repositories.
    ImageEntry(
        name="lightgbm",
        repository="sagebox-lightgbm",
        kind="algorithm",
        versions=("4",),
        tag_suffix="",
        module="sagebox.algorithms.lightgbm",
    ),
    ImageEntry(
        name="catboost",
        repository="sagebox-catboost",
        kind="algorithm",
        versions=("1.2",),
        tag_suffix="",
        module="sagebox.algorithms.catboost",
    ),
)

# Accounts that host the first-party algorithms (Linear Learner, KNN, ...), by region.
_ALGORITHM_ACCOUNTS = {
    "us-east-1": "382416733822",
    "us-east-2": "404615174143",
    "us-west-1": "632365934929",
    "us-west-2": "174872318107",
    "eu-west-1": "438346466558",
    "eu-central-1": "664544806723",
    "ap-northeast-1": "351501993468",
    "ap-northeast-2": "835164637446",
    "ap-southeast-1": "475088953585",
    "ap-southeast-2": "712309505854",
    "ap-south-1": "991648021394",
    "ca-central-1": "469771592824",
    "eu-west-2": "644912444149",
}

# Accounts that host SageMaker's scikit-learn and XGBoost images, by region (AWS's tables).
_FRAMEWORK_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "eu-central-1": "492215442770",
    "eu-north-1": "662702820516",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-south-1": "720646828776",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ca-central-1": "341280168497",
    "sa-east-1": "737474898029",
}

# Accounts that host the AWS Deep Learning Containers (pytorch-training), by region: one
# account almost everywhere, its own in the opt-in regions (AWS's DLC table).
_DLC_ACCOUNTS = {
    **dict.fromkeys(_FRAMEWORK_ACCOUNTS, "763104351884"),
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
}
_GPU_FAMILIES = ("ml.p", "ml.g")  # instance types whose DLC tag is "gpu"

_ECR = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9._/-]+)(?::(?P<tag>[A-Za-z0-9._-]+))?(?:@sha256:[0-9a-f]{64})?"
)
_SHORT = re.compile(r"sagebox/(?P<name>[a-z0-9-]+)(?::(?P<tag>[A-Za-z0-9._-]+))?")


def _supported() -> str:
    return ", ".join(f"sagebox/{e.name}" for e in REGISTRY)


def resolve_image(uri: str) -> ResolvedImage:
    """What runs for ``uri``; ``ValidationError`` naming the supported images otherwise."""
    short = _SHORT.fullmatch(uri)
    if short:
        for entry in REGISTRY:
            if entry.name == short["name"]:
                return ResolvedImage(uri, entry, short["tag"])
    ecr = _ECR.fullmatch(uri)
    if ecr:
        for entry in REGISTRY:
            if entry.repository == ecr["repo"]:
                tag = ecr["tag"]
                version = tag.removesuffix(entry.tag_suffix) if tag else None
                if version and entry.py_versions:  # 2.1.0-cpu-py310 -> 2.1.0
                    version = version.split("-", 1)[0]
                return ResolvedImage(uri, entry, version)
    raise ValidationError(
        f"The image {uri!r} is not one sagebox can run. Use a SageMaker image URI from "
        f"sagebox.image_uris.retrieve(...) or a short name ({_supported()}); arbitrary "
        "container images need a container engine, which this installation does not use."
    )


def _version(entry: ImageEntry, version: str | None) -> str:
    """The registry version ``version`` names; "2.1" is 2.1.0, as in the SageMaker SDK."""
    chosen = version or entry.versions[-1]
    if chosen in entry.versions:
        return chosen
    aliases = [v for v in entry.versions if v.startswith(f"{chosen}.")]
    if aliases:
        return aliases[-1]
    raise ValidationError(
        f"Unsupported {entry.name} version {chosen!r}. "
        f"Supported versions: {', '.join(entry.versions)}."
    )


def _tag(
    entry: ImageEntry,
    version: str,
    py_version: str | None,
    instance_type: str | None,
    image_scope: str | None,
) -> str:
    if not entry.py_versions:
        return f"{version}{entry.tag_suffix}"
    if image_scope not in (None, "training"):
        raise ValidationError(
            f"image_scope {image_scope!r} is not available for {entry.name}: sagebox has its "
            "training image only. Use image_scope='training'."
        )
    python = py_version or "py310"
    if python not in entry.py_versions:
        raise ValidationError(
            f"Unsupported py_version {python!r} for {entry.name}. "
            f"Supported: {', '.join(entry.py_versions)}."
        )
    processor = "gpu" if (instance_type or "").startswith(_GPU_FAMILIES) else "cpu"
    return f"{version}-{processor}-{python}"


def retrieve(
    framework: str,
    region: str,
    version: str | None = None,
    py_version: str | None = None,
    instance_type: str | None = None,
    image_scope: str | None = None,
) -> str:
    """The ECR URI of a SageMaker image, as ``sagemaker.image_uris.retrieve`` returns it.

    ``py_version`` and ``instance_type`` (a "cpu" or "gpu" tag) shape the tags of Deep
    Learning Container images (pytorch); the other images have one tag per version.
    """
    for entry in REGISTRY:
        if entry.name == framework:
            chosen = _version(entry, version)
            tag = _tag(entry, chosen, py_version, instance_type, image_scope)
            table = {"algorithm": _ALGORITHM_ACCOUNTS, "dlc": _DLC_ACCOUNTS}.get(
                entry.accounts, _FRAMEWORK_ACCOUNTS
            )
            account = table.get(region)
            if account is None:
                raise ValidationError(
                    f"No {framework} image is known for region {region!r}. "
                    f"Known regions: {', '.join(sorted(table))}."
                )
            return f"{account}.dkr.ecr.{region}.amazonaws.com/{entry.repository}:{tag}"
    raise ValidationError(
        f"Unknown framework {framework!r}. Known: {', '.join(e.name for e in REGISTRY)}."
    )
