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
    ),
    ImageEntry(
        name="xgboost",
        repository="sagemaker-xgboost",
        kind="algorithm",
        versions=("1.5-1", "1.7-1"),
        tag_suffix="",
        module="sagebox.algorithms.xgboost",
    ),
)

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
                return ResolvedImage(uri, entry, version)
    raise ValidationError(
        f"The image {uri!r} is not one sagebox can run. Use a SageMaker image URI from "
        f"sagebox.image_uris.retrieve(...) or a short name ({_supported()}); arbitrary "
        "container images need a container engine, which this installation does not use."
    )


def retrieve(framework: str, region: str, version: str | None = None) -> str:
    """The ECR URI of a SageMaker image, as ``sagemaker.image_uris.retrieve`` returns it."""
    for entry in REGISTRY:
        if entry.name == framework:
            chosen = version or entry.versions[-1]
            if chosen not in entry.versions:
                raise ValidationError(
                    f"Unsupported {framework} version {chosen!r}. "
                    f"Supported versions: {', '.join(entry.versions)}."
                )
            account = _FRAMEWORK_ACCOUNTS.get(region)
            if account is None:
                raise ValidationError(
                    f"No {framework} image is known for region {region!r}. "
                    f"Known regions: {', '.join(sorted(_FRAMEWORK_ACCOUNTS))}."
                )
            return (
                f"{account}.dkr.ecr.{region}.amazonaws.com/"
                f"{entry.repository}:{chosen}{entry.tag_suffix}"
            )
    raise ValidationError(
        f"Unknown framework {framework!r}. Known: {', '.join(e.name for e in REGISTRY)}."
    )
