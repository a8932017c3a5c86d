"""``SKLearn``: scikit-learn script mode, as ``sagemaker.sklearn.SKLearn``.

```python
from sagebox.sdk.sklearn import SKLearn

SKLearn(entry_point="train.py", framework_version="1.2-1", role=role,
        instance_type="ml.m5.large", hyperparameters={"n-estimators": 100},
        sagemaker_session=session).fit({"train": "s3://bucket/train/"})
```
"""

from __future__ import annotations

from typing import ClassVar

from sagebox.sdk.framework import Framework

__all__ = ["SKLearn"]


class SKLearn(Framework):
    """Runs a scikit-learn training script (the SageMaker scikit-learn image)."""

    _framework: ClassVar[str] = "sklearn"
    _default_py_version: ClassVar[str | None] = "py3"
