"""``XGBoost``: XGBoost script mode, as ``sagemaker.xgboost.XGBoost``.

The SageMaker XGBoost image runs your script when ``sagemaker_program`` is set (this
estimator sets it); without it the same image is the built-in algorithm
(``Estimator(image_uris.retrieve("xgboost", ...))``).

```python
from sagebox.sdk.xgboost import XGBoost

XGBoost(entry_point="train.py", framework_version="1.7-1", role=role,
        instance_type="ml.m5.large", hyperparameters={"num_round": 50},
        sagemaker_session=session).fit({"train": "s3://bucket/train/"})
```
"""

from __future__ import annotations

from typing import ClassVar

from sagebox.sdk.framework import Framework

__all__ = ["XGBoost"]


class XGBoost(Framework):
    """Runs an XGBoost training script (the SageMaker XGBoost image in script mode)."""

    _framework: ClassVar[str] = "xgboost"
    _default_py_version: ClassVar[str | None] = "py3"
