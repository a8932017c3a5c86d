"""The Data Catalog through the control plane: databases, tables, versions, partitions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagebox.control import Principal
from sagebox.errors import AccessDenied
from sagebox.glue import (
    AlreadyExists,
    ConcurrentModification,
    EntityNotFound,
    InvalidInput,
)
from sagebox.session import Session
from tests.glue.conftest import glue, iam

DESCRIPTOR = {
    "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"}],
    "Location": "s3://lake/loans/",
}
KEYS = [{"Name": "year", "Type": "bigint"}, {"Name": "month", "Type": "string"}]


def _table(session: Session, name: str = "loans", **extra: Any) -> None:
    table_input = {"Name": name, "StorageDescriptor": DESCRIPTOR, "PartitionKeys": KEYS, **extra}
    glue(session, "CreateTable", DatabaseName="lake", TableInput=table_input)


@pytest.fixture
def catalog(session: Session) -> Session:
    glue(session, "CreateDatabase", DatabaseInput={"Name": "Lake", "Description": "raw data"})
    return session


def test_databases_are_stored_lower_case_and_listed(catalog: Session) -> None:
    database = glue(catalog, "GetDatabase", Name="LAKE")["Database"]
    assert database["Name"] == "lake"
    assert database["Description"] == "raw data"
    assert database["CatalogId"] == catalog.account_id
    glue(catalog, "CreateDatabase", DatabaseInput={"Name": "curated"})
    names = [d["Name"] for d in glue(catalog, "GetDatabases")["DatabaseList"]]
    assert names == ["curated", "lake"]
    page = glue(catalog, "GetDatabases", MaxResults=1)
    assert [d["Name"] for d in page["DatabaseList"]] == ["curated"]
    rest = glue(catalog, "GetDatabases", NextToken=page["NextToken"])
    assert [d["Name"] for d in rest["DatabaseList"]] == ["lake"]
    assert "NextToken" not in rest


def test_database_errors_carry_glue_codes(catalog: Session) -> None:
    with pytest.raises(AlreadyExists) as exists:
        glue(catalog, "CreateDatabase", DatabaseInput={"Name": "lake"})
    assert exists.value.code == "AlreadyExistsException"
    with pytest.raises(EntityNotFound) as missing:
        glue(catalog, "GetDatabase", Name="nope")
    assert missing.value.code == "EntityNotFoundException"
    assert missing.value.http_status == 400
    with pytest.raises(InvalidInput) as invalid:
        glue(catalog, "CreateDatabase", DatabaseInput={"Name": "a/b"})
    assert invalid.value.code == "InvalidInputException"
    with pytest.raises(InvalidInput, match="CatalogId"):
        glue(catalog, "GetDatabases", CatalogId="111122223333")


def test_update_and_delete_database(catalog: Session) -> None:
    glue(catalog, "UpdateDatabase", Name="lake", DatabaseInput={"Name": "lake", "Description": "x"})
    assert glue(catalog, "GetDatabase", Name="lake")["Database"]["Description"] == "x"
    _table(catalog)
    glue(
        catalog,
        "BatchCreatePartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionInputList=[{"Values": ["2024", "01"]}],
    )
    glue(catalog, "DeleteDatabase", Name="lake")
    with pytest.raises(EntityNotFound):
        glue(catalog, "GetTable", DatabaseName="lake", Name="loans")
    glue(catalog, "CreateDatabase", DatabaseInput={"Name": "lake"})
    assert glue(catalog, "GetTables", DatabaseName="lake")["TableList"] == []


def test_tables_round_trip_and_filter_by_name_pattern(catalog: Session) -> None:
    _table(catalog, "Loans", Parameters={"classification": "parquet"})
    _table(catalog, "loan_decisions")
    _table(catalog, "customers")
    table = glue(catalog, "GetTable", DatabaseName="lake", Name="LOANS")["Table"]
    assert table["Name"] == "loans"
    assert table["DatabaseName"] == "lake"
    assert table["StorageDescriptor"]["Columns"] == DESCRIPTOR["Columns"]
    assert table["PartitionKeys"] == KEYS
    assert table["VersionId"] == "0"
    assert table["CreatedBy"] == catalog.control.root.arn

    def names(expression: str) -> list[str]:
        listed = glue(catalog, "GetTables", DatabaseName="lake", Expression=expression)
        return [t["Name"] for t in listed["TableList"]]

    assert names("loan*") == ["loan_decisions", "loans"]
    assert names("loans|customers") == ["customers", "loans"]
    assert names("cust.*") == ["customers"]
    with pytest.raises(AlreadyExists):
        _table(catalog, "loans")
    with pytest.raises(EntityNotFound, match="Database nope"):
        glue(catalog, "GetTable", DatabaseName="nope", Name="loans")


def test_a_partition_key_cannot_also_be_a_column(catalog: Session) -> None:
    with pytest.raises(InvalidInput, match=r"key\(s\) id are also columns"):
        _table(catalog, PartitionKeys=[{"Name": "id", "Type": "bigint"}])


def test_update_table_records_versions(catalog: Session) -> None:
    _table(catalog)
    wider = {**DESCRIPTOR, "Columns": [*DESCRIPTOR["Columns"], {"Name": "term", "Type": "int"}]}
    glue(
        catalog,
        "UpdateTable",
        DatabaseName="lake",
        TableInput={"Name": "loans", "StorageDescriptor": wider, "PartitionKeys": KEYS},
    )
    table = glue(catalog, "GetTable", DatabaseName="lake", Name="loans")["Table"]
    assert table["VersionId"] == "1"
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "amount", "term"]
    versions = glue(catalog, "GetTableVersions", DatabaseName="lake", TableName="loans")
    assert [v["VersionId"] for v in versions["TableVersions"]] == ["1", "0"]
    first = glue(catalog, "GetTableVersion", DatabaseName="lake", TableName="loans", VersionId="0")
    assert len(first["TableVersion"]["Table"]["StorageDescriptor"]["Columns"]) == 2
    with pytest.raises(ConcurrentModification):
        glue(
            catalog,
            "UpdateTable",
            DatabaseName="lake",
            TableInput={"Name": "loans", "StorageDescriptor": DESCRIPTOR},
            VersionId="0",
        )
    glue(
        catalog,
        "UpdateTable",
        DatabaseName="lake",
        TableInput={"Name": "loans", "StorageDescriptor": DESCRIPTOR, "PartitionKeys": KEYS},
        SkipArchive=True,
    )
    versions = glue(catalog, "GetTableVersions", DatabaseName="lake", TableName="loans")
    assert [v["VersionId"] for v in versions["TableVersions"]] == ["2", "0"]
    with pytest.raises(EntityNotFound):
        glue(catalog, "GetTableVersion", DatabaseName="lake", TableName="loans", VersionId="9")


def test_partitions_crud_and_batch_errors(catalog: Session) -> None:
    _table(catalog)
    values = [["2023", "12"], ["2024", "01"], ["2024", "02"]]
    errors = glue(
        catalog,
        "BatchCreatePartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionInputList=[
            *[
                {"Values": v, "StorageDescriptor": {**DESCRIPTOR, "Location": f"s3://l/{v[0]}/"}}
                for v in values
            ],
            {"Values": ["2024", "01"]},
            {"Values": ["2024"]},
        ],
    )["Errors"]
    assert [(e["PartitionValues"], e["ErrorDetail"]["ErrorCode"]) for e in errors] == [
        (["2024", "01"], "AlreadyExistsException"),
        (["2024"], "InvalidInputException"),
    ]
    one = glue(
        catalog,
        "GetPartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionValues=["2024", "01"],
    )["Partition"]
    assert one["StorageDescriptor"]["Location"] == "s3://l/2024/"
    assert one["TableName"] == "loans"
    got = glue(
        catalog,
        "BatchGetPartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionsToGet=[{"Values": ["2024", "02"]}, {"Values": ["1999", "01"]}],
    )
    assert [p["Values"] for p in got["Partitions"]] == [["2024", "02"]]
    glue(
        catalog,
        "CreatePartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionInput={"Values": ["2025", "01"]},
    )
    glue(
        catalog,
        "DeletePartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionValues=["2023", "12"],
    )
    with pytest.raises(EntityNotFound):
        glue(
            catalog,
            "GetPartition",
            DatabaseName="lake",
            TableName="loans",
            PartitionValues=["2023", "12"],
        )
    listed = glue(catalog, "GetPartitions", DatabaseName="lake", TableName="loans")
    assert [p["Values"] for p in listed["Partitions"]] == [
        ["2024", "01"],
        ["2024", "02"],
        ["2025", "01"],
    ]
    page = glue(
        catalog,
        "GetPartitions",
        DatabaseName="lake",
        TableName="loans",
        MaxResults=2,
        ExcludeColumnSchema=True,
    )
    assert len(page["Partitions"]) == 2
    assert "Columns" not in page["Partitions"][0]["StorageDescriptor"]
    rest = glue(
        catalog,
        "GetPartitions",
        DatabaseName="lake",
        TableName="loans",
        NextToken=page["NextToken"],
    )
    assert [p["Values"] for p in rest["Partitions"]] == [["2025", "01"]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("year = 2024", [["2024", "01"], ["2024", "02"]]),
        ("year = '2024' AND month = '02'", [["2024", "02"]]),
        ("year < 2024 OR month > '01'", [["2023", "12"], ["2024", "02"], ["2025", "11"]]),
        ("month IN ('01', '11')", [["2024", "01"], ["2025", "11"]]),
        ("year BETWEEN 2024 AND 2025 AND NOT month = '01'", [["2024", "02"], ["2025", "11"]]),
        ("month LIKE '1%'", [["2023", "12"], ["2025", "11"]]),
    ],
)
def test_get_partitions_expression(
    catalog: Session, expression: str, expected: list[list[str]]
) -> None:
    _table(catalog)
    glue(
        catalog,
        "BatchCreatePartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionInputList=[
            {"Values": v} for v in (["2023", "12"], ["2024", "01"], ["2024", "02"], ["2025", "11"])
        ],
    )
    found = glue(
        catalog, "GetPartitions", DatabaseName="lake", TableName="loans", Expression=expression
    )
    assert [p["Values"] for p in found["Partitions"]] == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("amount > 1", "not a partition key"),
        ("year = (SELECT 1)", "subquery"),
        ("year = 1; DROP TABLE x", "not valid"),
        ("read_text('/etc/passwd') = year", "read_text"),
        ("year >", "not valid"),
    ],
)
def test_get_partitions_rejects_what_is_not_a_filter(
    catalog: Session, expression: str, message: str
) -> None:
    _table(catalog)
    glue(
        catalog,
        "CreatePartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionInput={"Values": ["2024", "01"]},
    )
    with pytest.raises(InvalidInput, match=message):
        glue(
            catalog, "GetPartitions", DatabaseName="lake", TableName="loans", Expression=expression
        )


def test_delete_table_removes_its_partitions_and_versions(catalog: Session) -> None:
    _table(catalog)
    glue(
        catalog,
        "CreatePartition",
        DatabaseName="lake",
        TableName="loans",
        PartitionInput={"Values": ["2024", "01"]},
    )
    glue(catalog, "DeleteTable", DatabaseName="lake", Name="loans")
    _table(catalog)
    assert (
        glue(catalog, "GetPartitions", DatabaseName="lake", TableName="loans")["Partitions"] == []
    )
    versions = glue(catalog, "GetTableVersions", DatabaseName="lake", TableName="loans")
    assert [v["VersionId"] for v in versions["TableVersions"]] == ["0"]


def test_table_operations_are_authorized_on_the_table_arn(catalog: Session) -> None:
    _table(catalog)
    _table(catalog, "secrets")
    iam(catalog, "CreateUser", UserName="analyst")
    table_arn = f"arn:aws:glue:{catalog.region_name}:{catalog.account_id}:table/lake/loans"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["glue:GetTable", "glue:GetPartitions"],
                "Resource": table_arn,
            },
            {
                "Effect": "Allow",
                "Action": "glue:CreateTable",
                "Resource": "arn:aws:glue:*:*:database/lake",
            },
        ],
    }
    iam(
        catalog,
        "PutUserPolicy",
        UserName="analyst",
        PolicyName="read",
        PolicyDocument=json.dumps(policy),
    )
    analyst = Principal(f"arn:aws:iam::{catalog.account_id}:user/analyst", catalog.account_id)

    def call(operation: str, **params: Any) -> dict[str, Any]:
        return catalog.control.call(operation, params, service="glue", principal=analyst)

    assert call("GetTable", DatabaseName="lake", Name="loans")["Table"]["Name"] == "loans"
    with pytest.raises(AccessDenied, match="table/lake/secrets"):
        call("GetTable", DatabaseName="lake", Name="secrets")
    with pytest.raises(AccessDenied, match="table/lake/new"):
        call(
            "CreateTable",
            DatabaseName="lake",
            TableInput={"Name": "new", "StorageDescriptor": DESCRIPTOR},
        )
    with pytest.raises(AccessDenied, match="glue:GetDatabases"):
        call("GetDatabases")
