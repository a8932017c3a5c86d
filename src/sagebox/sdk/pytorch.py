"""``PyTorch``: PyTorch script mode (CPU), as ``sagemaker.pytorch.PyTorch``.

```python
from sagebox.sdk.pytorch import PyTorch

PyTorch(entry_point="train.py", framework_version="2.1", py_version="py310", role=role,
        instance_count=2, instance_type="ml.m5.large",
        distribution={"torch_distributed": {"enabled": True}},
        sagemaker_session=session).fit({"train": "s3://bucket/train/"})
```

``distribution`` takes the SageMaker SDK's shapes; ``torch_distributed`` and
``pytorchddp`` give every instance torchrun's environment (``MASTER_ADDR=algo-1``,
``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), so
``torch.distributed.init_process_group("gloo")`` works. PyTorch itself is optional:
``pip install torch`` where sagebox runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sagebox.errors import ValidationError
from sagebox.sdk.framework import Framework

__all__ = ["PyTorch"]

# distribution key -> the hyperparameter the SageMaker SDK sets for it
_SWITCHES = {
    "torch_distributed": "sagemaker_torch_distributed_enabled",
    "pytorchddp": "sagemaker_pytorch_ddp_enabled",
    "mpi": "sagemaker_mpi_enabled",
}


class PyTorch(Framework):
    """Runs a PyTorch training script (the SageMaker PyTorch training image, on CPU)."""

    _framework: ClassVar[str] = "pytorch"

    def __init__(
        self,
        entry_point: str,
        framework_version: str | None = None,
        py_version: str | None = None,
        source_dir: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        image_uri: str | None = None,
        distribution: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if image_uri is None and (framework_version is None or py_version is None):
            raise ValidationError(
                "PyTorch needs framework_version and py_version (e.g. framework_version='2.1', "
                f"py_version='py310') or image_uri; got framework_version={framework_version!r}, "
                f"py_version={py_version!r}."
            )
        super().__init__(
            entry_point,
            source_dir,
            hyperparameters,
            image_uri=image_uri,
            framework_version=framework_version,
            py_version=py_version,
            **kwargs,
        )
        self.distribution = dict(distribution or {})
        unknown = sorted(set(self.distribution) - {*_SWITCHES, "smdistributed"})
        if unknown:
            raise ValidationError(
                f"Unknown distribution {unknown}. Use "
                "{'torch_distributed': {'enabled': True}} (or 'pytorchddp')."
            )

    def _distribution_hyperparameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, hyperparameter in _SWITCHES.items():
            if bool(self.distribution.get(key, {}).get("enabled", False)):
                values[hyperparameter] = True
        data_parallel = self.distribution.get("smdistributed", {}).get("dataparallel", {})
        if data_parallel.get("enabled", False):
            values["sagemaker_distributed_dataparallel_enabled"] = True
        return values
