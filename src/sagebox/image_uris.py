"""``sagebox.image_uris.retrieve(framework, region, version)``, as in the SageMaker SDK."""

from sagebox.runtime.images import retrieve

__all__ = ["retrieve"]
