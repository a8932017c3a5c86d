"""Resource profiles of SageMaker ``ml.*`` instance types: one table for limits and cost.

Figures are AWS's published vCPU, memory and GPU counts; prices are approximate
us-east-1 on-demand SageMaker training/processing list prices in USD per hour, used
only for cost estimates. Types missing from the table are derived from their family
and size the way AWS sizes them (``xlarge`` = 4 vCPU, ``Nxlarge`` = 4N vCPU).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sagebox.errors import ValidationError


@dataclass(frozen=True)
class InstanceProfile:
    name: str
    vcpus: int
    memory_mib: int
    gpus: int = 0
    price_per_hour: float | None = None


# name: (vCPU, memory GiB, GPUs, USD/hour)
_TABLE: dict[str, tuple[int, float, int, float | None]] = {
    "ml.t3.medium": (2, 4, 0, 0.05),
    "ml.t3.large": (2, 8, 0, 0.10),
    "ml.t3.xlarge": (4, 16, 0, 0.20),
    "ml.t3.2xlarge": (8, 32, 0, 0.399),
    "ml.m4.xlarge": (4, 16, 0, 0.24),
    "ml.m4.2xlarge": (8, 32, 0, 0.48),
    "ml.m5.large": (2, 8, 0, 0.115),
    "ml.m5.xlarge": (4, 16, 0, 0.23),
    "ml.m5.2xlarge": (8, 32, 0, 0.461),
    "ml.m5.4xlarge": (16, 64, 0, 0.922),
    "ml.m5.12xlarge": (48, 192, 0, 2.765),
    "ml.m5.24xlarge": (96, 384, 0, 5.53),
    "ml.m6i.large": (2, 8, 0, 0.115),
    "ml.m6i.xlarge": (4, 16, 0, 0.23),
    "ml.c5.large": (2, 4, 0, 0.102),
    "ml.c5.xlarge": (4, 8, 0, 0.204),
    "ml.c5.2xlarge": (8, 16, 0, 0.408),
    "ml.c5.4xlarge": (16, 32, 0, 0.816),
    "ml.c5.9xlarge": (36, 72, 0, 1.836),
    "ml.c5.18xlarge": (72, 144, 0, 3.672),
    "ml.r5.large": (2, 16, 0, 0.151),
    "ml.r5.xlarge": (4, 32, 0, 0.302),
    "ml.r5.2xlarge": (8, 64, 0, 0.605),
    "ml.r5.4xlarge": (16, 128, 0, 1.21),
    "ml.g4dn.xlarge": (4, 16, 1, 0.736),
    "ml.g4dn.2xlarge": (8, 32, 1, 0.94),
    "ml.g5.xlarge": (4, 16, 1, 1.408),
    "ml.g5.2xlarge": (8, 32, 1, 1.515),
    "ml.p3.2xlarge": (8, 61, 1, 3.825),
    "ml.p3.8xlarge": (32, 244, 4, 14.688),
}

# GiB of memory per vCPU by family letter(s), for types not in the table.
_MEMORY_PER_VCPU = {"c": 2.0, "m": 4.0, "t": 4.0, "r": 8.0, "x": 16.0, "g": 4.0, "p": 7.6, "i": 8.0}
_NAME = re.compile(r"ml\.(?P<family>[a-z]+)(?P<gen>\d+)[a-z-]*\.(?P<size>\d*x?large|medium)")


def _derived(name: str) -> InstanceProfile | None:
    match = _NAME.fullmatch(name)
    if not match:
        return None
    size = match["size"]
    if size == "medium" or size == "large":
        vcpus = 2
    elif size == "xlarge":
        vcpus = 4
    else:
        vcpus = 4 * int(size.removesuffix("xlarge"))
    family = match["family"]
    per_vcpu = _MEMORY_PER_VCPU.get(family[0], 4.0)
    gpus = 1 if family[0] in "gp" else 0
    return InstanceProfile(name, vcpus, int(vcpus * per_vcpu * 1024), gpus)


def instance_profile(name: str) -> InstanceProfile:
    """The profile of ``name``; ``ValidationError`` for a name that is not an ml.* type."""
    row = _TABLE.get(name)
    if row is not None:
        vcpus, memory_gib, gpus, price = row
        return InstanceProfile(name, vcpus, int(memory_gib * 1024), gpus, price)
    derived = _derived(name)
    if derived is None:
        raise ValidationError(
            f"Unknown instance type {name!r}. Use an ml.* type such as 'ml.m5.xlarge' "
            f"(known: {', '.join(sorted(_TABLE))})."
        )
    return derived


def known_instance_types() -> list[str]:
    return sorted(_TABLE)
