"""``sagebox iam simulate``: the policy simulator's answer in words, or as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sagebox.cli.iam import app
from sagebox.home import Home

runner = CliRunner()
OBJECT = "arn:aws:s3:::ml-datasets/a.csv"
DATA_SCIENTIST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadData",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::ml-datasets", "arn:aws:s3:::ml-datasets/*"],
        },
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "s3:PutObjectTagging",
            "Resource": "arn:aws:s3:::ml-datasets/*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/Project": "LoanDefault"}},
        },
    ],
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    Home.open(path)
    return path


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(DATA_SCIENTIST, indent=2))
    return path


def iam(home: Path, *args: str) -> Result:
    return runner.invoke(app, [*args, "--home", str(home)])


def lines(home: Path, *args: str) -> list[str]:
    result = iam(home, "simulate", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_the_answer_in_words_names_the_deciding_statement(home: Path, ds: Path) -> None:
    out = lines(
        home,
        "--policy-file",
        str(ds),
        "--action",
        "s3:GetObject",
        "--action",
        "s3:PutObject",
        "--action",
        "s3:DeleteObject",
        "--resource",
        OBJECT,
    )
    assert out == [
        f"s3:GetObject on {OBJECT}: allowed by statement 'ReadData' (policy 'ds', line 4)",
        f"s3:PutObject on {OBJECT}: denied: no statement allows it (implicit deny)",
        f"s3:DeleteObject on {OBJECT}: denied explicitly by statement 'NoDelete' in policy 'ds' "
        "(line 16)",
    ]


def test_context_values_and_the_keys_still_missing(home: Path, ds: Path) -> None:
    base = ["--policy-file", str(ds), "-a", "s3:PutObjectTagging", "-r", OBJECT]
    tagged = lines(home, *base, "--context", "s3:ExistingObjectTag/Project=LoanDefault:string")
    assert tagged == [
        f"s3:PutObjectTagging on {OBJECT}: allowed by the statement at line 22 of policy 'ds'"
    ]
    other = lines(home, *base, "--context", "s3:ExistingObjectTag/Project=Fraud")
    assert other[0].endswith("denied: no statement allows it (implicit deny)")
    untold = lines(home, *base)
    assert untold[1] == (
        "  missing context values: s3:ExistingObjectTag/Project "
        "(give them with --context KEY=VALUE[:TYPE])"
    )
    refused = iam(home, "simulate", *base, "--context", "no-equals-sign")
    assert refused.exit_code == 2 and "KEY=VALUE[:TYPE]" in refused.stderr


def test_json_output_is_the_api_response(home: Path, ds: Path) -> None:
    result = iam(home, "simulate", "-p", str(ds), "-a", "s3:ListBucket", "--output", "json")
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert response["IsTruncated"] is False
    [evaluation] = response["EvaluationResults"]
    assert evaluation["EvalActionName"] == "s3:ListBucket"
    assert evaluation["EvalResourceName"] == "*"
    assert evaluation["EvalDecision"] == "implicitDeny"  # the policy names buckets, not "*"


def test_a_principal_is_simulated_with_its_own_policies(home: Path, tmp_path: Path) -> None:
    from sagebox.session import Session

    control = Session(home).control
    control.call("CreateUser", {"UserName": "dana"}, service="iam")
    read = json.dumps({"Version": "2012-10-17", "Statement": [DATA_SCIENTIST["Statement"][0]]})
    control.call(
        "PutUserPolicy",
        {"UserName": "dana", "PolicyName": "datasets", "PolicyDocument": read},
        service="iam",
    )
    dana = control.call("GetUser", {"UserName": "dana"}, service="iam")["User"]["Arn"]
    boundary = tmp_path / "no-get.json"
    boundary.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
            }
        )
    )
    out = lines(home, "--principal", dana, "-a", "s3:GetObject", "-r", OBJECT)
    assert out == [
        f"s3:GetObject on {OBJECT}: allowed by the statement at line 1 of policy 'datasets'"
    ]
    bounded = lines(
        home,
        "--principal",
        dana,
        "-a",
        "s3:GetObject",
        "-r",
        OBJECT,
        "--boundary-file",
        str(boundary),
    )
    assert bounded == [
        f"s3:GetObject on {OBJECT}: denied: no statement allows it (implicit deny); the "
        "permissions boundary does not allow it either"
    ]


def test_errors_are_printed_as_the_aws_cli_does(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"Version": "2012-10-17", "Statement": [')
    result = iam(home, "simulate", "-p", str(broken), "-a", "s3:GetObject")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "An error occurred (MalformedPolicyDocument) when calling the SimulateCustomPolicy "
        "operation: PolicyInputList.1: Syntax errors in policy."
    )
    nothing = iam(home, "simulate", "-a", "s3:GetObject")
    assert nothing.exit_code == 2 and "--policy-file FILE" in nothing.stderr
    ghost = iam(home, "simulate", "--principal", "arn:aws:iam::123456789012:user/x", "-a", "s3:X")
    assert ghost.exit_code == 1 and "(NoSuchEntity)" in ghost.stderr


def test_importing_the_cli_module_stays_light() -> None:
    code = (
        "import sys; import sagebox.cli.iam; "
        "print([m for m in ('sqlalchemy', 'botocore', 'boto3') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
