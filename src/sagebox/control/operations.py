"""The registry of implemented operations: what each one runs and which ARN it acts on.

One line per operation. ``resource`` is a template over the request's top-level members
(``{ProcessingJobName}``) giving the resource part of the ARN that IAM decides on, a
full-ARN member (``{ResourceArn}``), ``=module:function`` for an ARN that the operation's
module works out from ``(home, request)``, or ``*`` for operations on no single resource.
Handlers are imported lazily, on first call.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagebox.control.context import Context
    from sagebox.home import Home

Handler = Callable[["Context", dict[str, Any]], Mapping[str, Any]]
_IAM_PREFIX = {"sagemaker-runtime": "sagemaker"}


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    handler: str  # "module:function"
    resource: str
    # False for the few operations AWS answers for any authenticated caller
    # (sts:GetCallerIdentity needs no permission).
    authorized: bool = True

    @property
    def action(self) -> str:
        return f"{self.arn_service}:{self.name}"

    @property
    def arn_service(self) -> str:
        """The service prefix of its IAM action and resource ARNs: SageMaker Runtime's
        operations are ``sagemaker:InvokeEndpoint`` on ``arn:aws:sagemaker:...``."""
        return _IAM_PREFIX.get(self.service, self.service)

    def load(self) -> Handler:
        loaded: Handler = _import(self.handler)
        return loaded

    def resolver(self) -> Callable[[Home, Mapping[str, Any]], str] | None:
        """For a ``resource`` of ``=module:function``: that function of ``(home,
        request)``, which works out the ARN IAM decides on; None for other resources."""
        if not self.resource.startswith("="):
            return None
        resolve: Callable[[Home, Mapping[str, Any]], str] = _import(self.resource[1:])
        return resolve


def _import(reference: str) -> Any:
    """``module:function`` of ``sagebox.control`` (or a dotted module), imported now."""
    module, _, function = reference.partition(":")
    package = module if "." in module else f"sagebox.control.{module}"
    return getattr(importlib.import_module(package), function)


def _sm(name: str, handler: str, resource: str) -> Operation:
    return Operation("sagemaker", name, handler, resource)


def _iam(name: str, handler: str, resource: str) -> Operation:
    return Operation("iam", name, handler, resource)


def _glue(name: str, handler: str, resource: str) -> Operation:
    module = "glue_crawlers" if "Crawler" in name else "glue_catalog"
    return Operation("glue", name, f"{module}:{handler}", resource)


_TABLE = "table/{DatabaseName}/{TableName}"
_GLUE_OPS = (
    _glue("CreateDatabase", "create_database", "catalog"),
    _glue("GetDatabase", "get_database", "database/{Name}"),
    _glue("GetDatabases", "get_databases", "catalog"),
    _glue("UpdateDatabase", "update_database", "database/{Name}"),
    _glue("DeleteDatabase", "delete_database", "database/{Name}"),
    _glue("CreateTable", "create_table", "database/{DatabaseName}"),
    _glue("GetTable", "get_table", "table/{DatabaseName}/{Name}"),
    _glue("GetTables", "get_tables", "database/{DatabaseName}"),
    _glue("UpdateTable", "update_table", "database/{DatabaseName}"),
    _glue("DeleteTable", "delete_table", "table/{DatabaseName}/{Name}"),
    _glue("GetTableVersions", "get_table_versions", _TABLE),
    _glue("GetTableVersion", "get_table_version", _TABLE),
    _glue("CreatePartition", "create_partition", _TABLE),
    _glue("BatchCreatePartition", "batch_create_partition", _TABLE),
    _glue("GetPartition", "get_partition", _TABLE),
    _glue("GetPartitions", "get_partitions", _TABLE),
    _glue("BatchGetPartition", "batch_get_partition", _TABLE),
    _glue("UpdatePartition", "update_partition", _TABLE),
    _glue("DeletePartition", "delete_partition", _TABLE),
    _glue("BatchDeletePartition", "batch_delete_partition", _TABLE),
    _glue("CreateCrawler", "create_crawler", "crawler/{Name}"),
    _glue("GetCrawler", "get_crawler", "crawler/{Name}"),
    _glue("GetCrawlers", "get_crawlers", "*"),
    _glue("ListCrawlers", "list_crawlers", "*"),
    _glue("UpdateCrawler", "update_crawler", "crawler/{Name}"),
    _glue("StartCrawler", "start_crawler", "crawler/{Name}"),
    _glue("StopCrawler", "stop_crawler", "crawler/{Name}"),
    _glue("GetCrawlerMetrics", "get_crawler_metrics", "*"),
    _glue("DeleteCrawler", "delete_crawler", "crawler/{Name}"),
)


def _per_entity(template: str, noun: str, resource: str) -> tuple[Operation, ...]:
    """One operation per entity kind: ``Attach{Kind}Policy`` for User, Group and Role."""
    kinds = {"user": "User", "group": "Group", "role": "Role"}
    title = kinds[noun]
    name = template.format(Kind=title)
    function = "_".join(p.lower() for p in _split_camel(name))
    return (_iam(name, f"iam_policies:{function}", resource.format(noun=noun, Kind=title)),)


def _split_camel(name: str) -> list[str]:
    return re.findall(r"[A-Z][a-z]*", name)


_ENTITY_POLICY_OPS = tuple(
    op
    for noun in ("user", "group", "role")
    for template in (
        "Attach{Kind}Policy",
        "Detach{Kind}Policy",
        "ListAttached{Kind}Policies",
        "Put{Kind}Policy",
        "Get{Kind}Policy",
        "Delete{Kind}Policy",
        "List{Kind}Policies",
    )
    for op in _per_entity(template, noun, "{noun}/{{{Kind}Name}}")
) + tuple(
    op
    for noun in ("user", "role")
    for template in ("Put{Kind}PermissionsBoundary", "Delete{Kind}PermissionsBoundary")
    for op in _per_entity(template, noun, "{noun}/{{{Kind}Name}}")
)


_TUNING = "hyper-parameter-tuning-job/{HyperParameterTuningJobName}"
# Model registry members may hold a name or an ARN: the module works out the ARN.
_GROUP = "=model_packages:group_resource"
_PACKAGE = "=model_packages:package_resource"
_REGISTRY_OPS = (
    _sm("CreateModelPackageGroup", "model_packages:create_group", _GROUP),
    _sm("DescribeModelPackageGroup", "model_packages:describe_group", _GROUP),
    _sm("ListModelPackageGroups", "model_packages:list_groups", "*"),
    _sm("DeleteModelPackageGroup", "model_packages:delete_group", _GROUP),
    _sm("CreateModelPackage", "model_packages:create_package", _PACKAGE),
    _sm("DescribeModelPackage", "model_packages:describe_package", _PACKAGE),
    _sm("ListModelPackages", "model_packages:list_packages", "*"),
    _sm("BatchDescribeModelPackage", "model_packages:batch_describe_packages", "*"),
    _sm("UpdateModelPackage", "model_packages:update_package", _PACKAGE),
    _sm("DeleteModelPackage", "model_packages:delete_package", _PACKAGE),
)
_ENDPOINT = "endpoint/{EndpointName}"
_MODEL = "model/{ModelName}"
_ENDPOINT_CONFIG = "endpoint-config/{EndpointConfigName}"
_HOSTING_OPS = (
    _sm("CreateModel", "models:create", _MODEL),
    _sm("DescribeModel", "models:describe", _MODEL),
    _sm("ListModels", "models:list_models", "*"),
    _sm("DeleteModel", "models:delete", _MODEL),
    _sm("CreateEndpointConfig", "endpoint_configs:create", _ENDPOINT_CONFIG),
    _sm("DescribeEndpointConfig", "endpoint_configs:describe", _ENDPOINT_CONFIG),
    _sm("ListEndpointConfigs", "endpoint_configs:list_configs", "*"),
    _sm("DeleteEndpointConfig", "endpoint_configs:delete", _ENDPOINT_CONFIG),
    _sm("CreateEndpoint", "endpoints:create", _ENDPOINT),
    _sm("DescribeEndpoint", "endpoints:describe", _ENDPOINT),
    _sm("ListEndpoints", "endpoints:list_endpoints", "*"),
    _sm("UpdateEndpoint", "endpoints:update", _ENDPOINT),
    _sm(
        "UpdateEndpointWeightsAndCapacities",
        "endpoints:update_weights_and_capacities",
        _ENDPOINT,
    ),
    _sm("DeleteEndpoint", "endpoints:delete", _ENDPOINT),
)
_TRANSFORM = "transform-job/{TransformJobName}"
_TRANSFORM_OPS = (
    _sm("CreateTransformJob", "transform:create", _TRANSFORM),
    _sm("DescribeTransformJob", "transform:describe", _TRANSFORM),
    _sm("ListTransformJobs", "transform:list_jobs", "*"),
    _sm("StopTransformJob", "transform:stop", _TRANSFORM),
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    (op.service, op.name): op
    for op in (
        _sm("CreateProcessingJob", "processing:create", "processing-job/{ProcessingJobName}"),
        _sm("DescribeProcessingJob", "processing:describe", "processing-job/{ProcessingJobName}"),
        _sm("ListProcessingJobs", "processing:list_jobs", "*"),
        _sm("StopProcessingJob", "processing:stop", "processing-job/{ProcessingJobName}"),
        _sm("CreateTrainingJob", "training:create", "training-job/{TrainingJobName}"),
        _sm("DescribeTrainingJob", "training:describe", "training-job/{TrainingJobName}"),
        _sm("ListTrainingJobs", "training:list_jobs", "*"),
        _sm("StopTrainingJob", "training:stop", "training-job/{TrainingJobName}"),
        _sm("CreateHyperParameterTuningJob", "tuning:create", _TUNING),
        _sm("DescribeHyperParameterTuningJob", "tuning:describe", _TUNING),
        _sm("ListHyperParameterTuningJobs", "tuning:list_jobs", "*"),
        _sm("StopHyperParameterTuningJob", "tuning:stop", _TUNING),
        _sm("ListTrainingJobsForHyperParameterTuningJob", "tuning:list_training_jobs", _TUNING),
        *_HOSTING_OPS,
        *_REGISTRY_OPS,
        *_TRANSFORM_OPS,
        _sm("AddTags", "tags:add_tags", "{ResourceArn}"),
        _sm("ListTags", "tags:list_tags", "{ResourceArn}"),
        _sm("DeleteTags", "tags:delete_tags", "{ResourceArn}"),
        _iam("CreateUser", "iam_entities:create_user", "user/{UserName}"),
        _iam("GetUser", "iam_entities:get_user", "user/{UserName}"),
        _iam("ListUsers", "iam_entities:list_users", "*"),
        _iam("DeleteUser", "iam_entities:delete_user", "user/{UserName}"),
        _iam("CreateGroup", "iam_entities:create_group", "group/{GroupName}"),
        _iam("GetGroup", "iam_entities:get_group", "group/{GroupName}"),
        _iam("ListGroups", "iam_entities:list_groups", "*"),
        _iam("DeleteGroup", "iam_entities:delete_group", "group/{GroupName}"),
        _iam("AddUserToGroup", "iam_entities:add_user_to_group", "group/{GroupName}"),
        _iam("RemoveUserFromGroup", "iam_entities:remove_user_from_group", "group/{GroupName}"),
        _iam("ListGroupsForUser", "iam_entities:list_groups_for_user", "user/{UserName}"),
        _iam("CreateRole", "iam_entities:create_role", "role/{RoleName}"),
        _iam("GetRole", "iam_entities:get_role", "role/{RoleName}"),
        _iam("ListRoles", "iam_entities:list_roles", "*"),
        _iam("DeleteRole", "iam_entities:delete_role", "role/{RoleName}"),
        _iam("UpdateAssumeRolePolicy", "iam_entities:update_assume_role_policy", "role/{RoleName}"),
        _iam("CreatePolicy", "iam_policies:create_policy", "policy/{PolicyName}"),
        _iam("GetPolicy", "iam_policies:get_policy", "{PolicyArn}"),
        _iam("GetPolicyVersion", "iam_policies:get_policy_version", "{PolicyArn}"),
        _iam("ListPolicies", "iam_policies:list_policies", "*"),
        _iam("DeletePolicy", "iam_policies:delete_policy", "{PolicyArn}"),
        _iam("CreateAccessKey", "iam_keys:create_access_key", "user/{UserName}"),
        _iam("ListAccessKeys", "iam_keys:list_access_keys", "user/{UserName}"),
        _iam("UpdateAccessKey", "iam_keys:update_access_key", "user/{UserName}"),
        _iam("DeleteAccessKey", "iam_keys:delete_access_key", "user/{UserName}"),
        *_ENTITY_POLICY_OPS,
        _iam("SimulateCustomPolicy", "iam_simulate:simulate_custom_policy", "*"),
        _iam(
            "SimulatePrincipalPolicy", "iam_simulate:simulate_principal_policy", "{PolicySourceArn}"
        ),
        Operation("s3", "PutBucketPolicy", "bucket_policy:put", "arn:aws:s3:::{Bucket}"),
        Operation("s3", "GetBucketPolicy", "bucket_policy:get", "arn:aws:s3:::{Bucket}"),
        Operation("s3", "DeleteBucketPolicy", "bucket_policy:delete", "arn:aws:s3:::{Bucket}"),
        *_GLUE_OPS,
        # SageMaker Runtime (service "sagemaker-runtime", IAM prefix "sagemaker")
        Operation("sagemaker-runtime", "InvokeEndpoint", "runtime:invoke_endpoint", _ENDPOINT),
        Operation("sts", "AssumeRole", "sts:assume_role", "{RoleArn}"),
        Operation("sts", "GetCallerIdentity", "sts:get_caller_identity", "*", authorized=False),
    )
}
