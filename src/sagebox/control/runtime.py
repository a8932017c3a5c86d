"""SageMaker Runtime's InvokeEndpoint as a control-plane operation.

Embedded callers reach it as ``plane.call("InvokeEndpoint", {...},
service="sagemaker-runtime")``: authorized (``sagemaker:InvokeEndpoint`` on the
endpoint's ARN) and validated like every operation, then forwarded by this process's
:class:`~sagebox.serving.router.Router`. The HTTP server answers the same operation on
its own fast path (:mod:`sagebox.api.invocations`) with the same router.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.control.context import Context


def invoke_endpoint(ctx: Context, request: Mapping[str, Any]) -> dict[str, Any]:
    from sagebox.serving.router import Invocation, router_for

    return router_for(ctx.home).invoke(Invocation.from_api(request)).to_api()
