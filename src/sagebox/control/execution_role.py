"""Jobs act as their execution role (``RoleArn``), as on SageMaker.

Creating a job needs ``iam:PassRole`` on the role; the role must exist and its trust
policy must let ``sagemaker.amazonaws.com`` assume it. The job then runs as the role
session ``arn:aws:sts::<account>:assumed-role/<role>/SageMaker``: staging its inputs
and uploading its outputs are authorized as that session (:mod:`control.job_access`).
"""

from __future__ import annotations

from sagebox.control.context import Context
from sagebox.errors import ResourceNotFound, ValidationError

SERVICE = "sagemaker.amazonaws.com"
SESSION_NAME = "SageMaker"
DEFAULT_ROLE = "SageboxExecutionRole"


def session_arn(account_id: str, role_arn: str) -> str:
    role_name = role_arn.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{SESSION_NAME}"


def check_execution_role(ctx: Context, role_arn: str) -> str:
    """Authorize passing ``role_arn`` to SageMaker; return the job's session principal ARN."""
    from sagebox.iam import is_trusted, parse_policy

    ctx.authorizer.authorize(
        ctx.principal, "iam:PassRole", role_arn, {"iam:PassedToService": SERVICE}
    )
    cannot = ValidationError(
        f"Could not assume role {role_arn}. Please ensure that the role exists and allows "
        f"principal '{SERVICE}' to assume the role. (sagebox.get_execution_role() makes "
        f"one: {DEFAULT_ROLE}.)"
    )
    try:
        role = ctx.home.metadata.get("iam-role", role_arn.rsplit("/", 1)[-1])
    except ResourceNotFound:
        raise cannot from None
    if role.arn != role_arn:
        raise cannot
    trust = parse_policy(role.document["AssumeRolePolicyDocument"], "trust")
    if not is_trusted(trust, SERVICE):
        raise cannot
    return session_arn(ctx.home.account_id, role_arn)
