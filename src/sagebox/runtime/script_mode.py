"""Script mode: run a user's SageMaker training script unchanged, inside one instance.

On SageMaker a framework image (scikit-learn, XGBoost, PyTorch) runs the training
toolkit: it reads the ``sagemaker_*`` hyperparameters the SDK sets, downloads the
``sagemaker_submit_directory`` archive into ``/opt/ml/code``, and runs
``python <sagemaker_program> --<hyperparameter> <value> ...`` with the toolkit's ``SM_*``
environment. This module is that launcher (``python -m sagebox.runtime.script_mode
<framework>``), and :class:`ScriptSettings` is the one reading of those hyperparameters
that both the control plane (to validate a request) and the launcher use.

The supervisor stages the submit directory at :data:`SOURCE_PATH` like a channel (as the
job's role); the launcher extracts it safely, checks ``requirements.txt`` against what is
installed (sagebox never pip-installs at run time), runs the program, and on failure
writes ``/opt/ml/output/failure`` in SageMaker's ``ExecuteUserScriptError`` shape.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sagebox import archives
from sagebox.errors import ValidationError
from sagebox.runtime.failures import traceback_tail
from sagebox.store.objects import parse_s3_uri

PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
LOG_LEVEL = "sagemaker_container_log_level"
REGION = "sagemaker_region"
JOB_NAME = "sagemaker_job_name"
# PyTorch(distribution={"torch_distributed": ...} / {"pytorchddp": ...}) set these.
DISTRIBUTED = ("sagemaker_torch_distributed_enabled", "sagemaker_pytorch_ddp_enabled")
UNSUPPORTED = {
    "sagemaker_mpi_enabled": "MPI (distribution={'mpi': ...})",
    "sagemaker_distributed_dataparallel_enabled": "SageMaker's data parallel library "
    "(distribution={'smdistributed': ...}), which needs NVIDIA GPUs",
}
SAGEMAKER_PREFIX = "sagemaker_"

SOURCE_PATH = "/opt/ml/input/source"  # where the supervisor stages the submit directory
SOURCE_CHANNEL = SUBMIT_DIRECTORY  # the staging channel's name, as errors show it
FRAMEWORK_MODULE = "sagebox.runtime.script_mode:main"
DEFAULT_MASTER_PORT = "7777"  # the training toolkit's; the supervisor gives a free one
TAIL_LINES = 200

# import name -> (what users call it, what to pip install)
_FRAMEWORKS = {
    "torch": ("PyTorch", "torch"),
    "sklearn": ("scikit-learn", "scikit-learn"),
    "xgboost": ("XGBoost", "xgboost"),
}


def decode(value: Any) -> Any:
    """A hyperparameter as the toolkit reads it: JSON when it parses, else the raw string.

    The SageMaker SDK JSON-encodes values (``"\\"train.py\\""``, ``"10"``); boto3 users
    often send raw strings (``"train.py"``); both mean the same.
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _truthy(value: Any) -> bool:
    decoded = decode(value)
    if isinstance(decoded, str):
        return decoded.strip().lower() in ("true", "1", "yes")
    return bool(decoded)


def wants_script_mode(kind: str, script_mode: bool, hyperparameters: Mapping[str, str]) -> bool:
    """Whether a training job runs a user's script: framework images always do; an
    algorithm image that supports it (XGBoost) does when ``sagemaker_program`` is set."""
    return kind == "framework" or (script_mode and PROGRAM in hyperparameters)


def missing_framework(requires: str | None) -> str | None:
    """Why a script-mode job cannot run here (its framework is not installed), or None."""
    if requires is None or importlib.util.find_spec(requires) is not None:
        return None
    label, package = _FRAMEWORKS.get(requires, (requires, requires))
    return f"{label} is not installed in this sagebox installation: pip install {package}"


@dataclass(frozen=True)
class ScriptSettings:
    """What the ``sagemaker_*`` hyperparameters of a script-mode job say, decoded."""

    program: str
    submit_directory: str
    log_level: int
    region: str | None
    job_name: str | None
    distributed: bool
    hyperparameters: dict[str, Any]  # the user's, decoded, without sagemaker_*
    framework_parameters: dict[str, Any]  # sagemaker_* keys the toolkit does not name

    @classmethod
    def from_hyperparameters(cls, raw: Mapping[str, Any], image: str = "") -> ScriptSettings:
        """Read and check the settings; ``ValidationError`` saying how to fix them."""
        values = {k: decode(v) for k, v in raw.items()}
        program = values.get(PROGRAM)
        on = f"The image {image!r} runs" if image else "Script mode runs"
        if not isinstance(program, str) or not program.strip():
            raise ValidationError(
                f"{on} your training script, but the hyperparameter {PROGRAM!r} is not set "
                f"(got {raw.get(PROGRAM)!r}). Set it to the script's file name (e.g. "
                f"'train.py') and {SUBMIT_DIRECTORY!r} to the S3 URI of its sourcedir.tar.gz, "
                "or use the SDK's framework estimators (SKLearn/XGBoost/PyTorch("
                "entry_point='train.py', ...)), which set both."
            )
        relative = PurePosixPath(program)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValidationError(
                f"The hyperparameter {PROGRAM!r} must be a path inside the source directory; "
                f"got {program!r}. Give the script's name relative to it, e.g. 'train.py'."
            )
        submit = values.get(SUBMIT_DIRECTORY)
        if not isinstance(submit, str) or not submit.startswith("s3://"):
            raise ValidationError(
                f"The hyperparameter {SUBMIT_DIRECTORY!r} must be the S3 URI of the script's "
                "sourcedir.tar.gz (or of an S3 prefix holding the code); got "
                f"{raw.get(SUBMIT_DIRECTORY)!r}. Upload the code first (the SDK's framework "
                "estimators do it for you)."
            )
        parse_s3_uri(submit)
        for key, what in UNSUPPORTED.items():
            if _truthy(values.get(key, False)):
                raise ValidationError(
                    f"The hyperparameter {key!r} asks for {what}, which sagebox does not run. "
                    "Use distribution={'torch_distributed': {'enabled': True}} (torchrun-style "
                    "environment, gloo on CPU) or no distribution."
                )
        level = values.get(LOG_LEVEL, 20)
        if not isinstance(level, int) or isinstance(level, bool):
            raise ValidationError(
                f"The hyperparameter {LOG_LEVEL!r} must be a logging level number such as 20; "
                f"got {raw.get(LOG_LEVEL)!r}."
            )
        known = {PROGRAM, SUBMIT_DIRECTORY, LOG_LEVEL, REGION, JOB_NAME}
        return cls(
            program=program,
            submit_directory=submit,
            log_level=level,
            region=values.get(REGION),
            job_name=values.get(JOB_NAME),
            distributed=any(_truthy(values.get(key, False)) for key in DISTRIBUTED),
            hyperparameters={k: v for k, v in values.items() if not k.startswith(SAGEMAKER_PREFIX)},
            framework_parameters={
                k: v for k, v in values.items() if k.startswith(SAGEMAKER_PREFIX) and k not in known
            },
        )

    @property
    def module_name(self) -> str:
        return self.program.removesuffix(".py")


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The script's arguments, as the toolkit makes them: ``--name value``, sorted by name
    (``-n`` for one-letter names); dictionaries become ``k=v,k2=v2``."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        args.append(f"--{name}" if len(name) > 1 else f"-{name}")
        if isinstance(value, Mapping):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(value if isinstance(value, str) else str(value))
    return args


def _env_value(value: Any) -> str:
    """A value as the toolkit exports it: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class LaunchError(Exception):
    """Why the launcher could not start the script; the message is the failure line."""


@dataclass(frozen=True)
class Layout:
    """The instance's folders, from the supervisor's ``SM_*`` variables (literal /opt/ml
    paths when the instance has its mount namespace, its folder's paths otherwise)."""

    root: Path
    input: Path
    config: Path
    model: Path
    output: Path
    output_data: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Layout:
        input_dir = Path(env.get("SM_INPUT_DIR") or "/opt/ml/input")
        output = Path(env.get("SM_OUTPUT_DIR") or input_dir.parent / "output")
        return cls(
            root=input_dir.parent,
            input=input_dir,
            config=Path(env.get("SM_INPUT_CONFIG_DIR") or input_dir / "config"),
            model=Path(env.get("SM_MODEL_DIR") or input_dir.parent / "model"),
            output=output,
            output_data=Path(env.get("SM_OUTPUT_DATA_DIR") or output / "data"),
        )

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def source(self) -> Path:
        return self.root / PurePosixPath(SOURCE_PATH).relative_to("/opt/ml")

    def read_config(self, name: str) -> dict[str, Any]:
        path = self.config / name
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise LaunchError(f"Could not read {path}: {exc}") from None
        return document if isinstance(document, dict) else {}


# --- the source directory ---------------------------------------------------------------


def extract_source(archive: Path, destination: Path) -> None:
    """Extract the script's archive, checking every member before anything is written."""

    def refused(member: str, problem: str) -> LaunchError:
        return LaunchError(
            f"Refusing the source archive {archive.name}: member {member!r} {problem}. Pack "
            "the source folder with paths relative to it and no links (tar -czf "
            "sourcedir.tar.gz -C src .; the SDK's framework estimators do this)."
        )

    def unreadable(reason: str) -> LaunchError:
        return LaunchError(f"The source archive {archive.name} is not a readable tar.gz: {reason}")

    archives.safe_extract(archive, destination, refused, unreadable)


def stage_code(layout: Layout, settings: ScriptSettings) -> None:
    """Put the submit directory in /opt/ml/code: extract the archive, or copy the files of
    an S3 prefix (or a lone script) as they are."""
    name = PurePosixPath(parse_s3_uri(settings.submit_directory).key).name
    archive = layout.source / name if name else None
    if archive is not None and archive.is_file() and tarfile.is_tarfile(archive):
        extract_source(archive, layout.code)
    elif layout.source.is_dir():
        shutil.copytree(layout.source, layout.code, dirs_exist_ok=True, symlinks=False)
    else:
        raise LaunchError(
            f"The source directory {settings.submit_directory} was not staged into this "
            "instance. Check that the object exists."
        )


def check_requirements(code: Path) -> None:
    """sagebox installs nothing at run time: each requirement must already be installed."""
    path = code / "requirements.txt"
    if not path.is_file():
        return
    from importlib import metadata

    print(
        "sagebox: requirements.txt found; sagebox does not pip-install at run time, so each "
        "requirement must already be installed where sagebox runs. Checking them.",
        flush=True,
    )
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        requirement = _parse_requirement(text)
        if requirement is None:
            continue
        name, specifier = requirement
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise LaunchError(
                f"InstallRequirementsError: requirements.txt line {number} asks for {text!r}, "
                f"which is not installed, and sagebox does not pip-install at run time. "
                f"Install it where sagebox runs (pip install '{text}') or remove it from "
                "requirements.txt."
            ) from None
        if specifier is not None and not specifier.contains(installed, prereleases=True):
            print(
                f"sagebox: WARNING: requirements.txt asks for {text!r}; {name} {installed} is "
                "installed and is used.",
                flush=True,
            )


def _parse_requirement(text: str) -> tuple[str, Any] | None:
    """(name, specifier or None), or None when the line does not apply to this machine."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)
        return (match.group(0), None) if match else None
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)
        return (match.group(0), None) if match else None
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None
    return requirement.name, requirement.specifier if str(requirement.specifier) else None


# --- the environment --------------------------------------------------------------------


def training_environment(
    layout: Layout,
    settings: ScriptSettings,
    resource_config: Mapping[str, Any],
    input_data_config: Mapping[str, Any],
    env: Mapping[str, str],
) -> dict[str, str]:
    """The training toolkit's environment for the script (on top of ``env``)."""
    hosts = list(resource_config.get("hosts") or [env.get("SM_CURRENT_HOST", "algo-1")])
    current = str(resource_config.get("current_host") or env.get("SM_CURRENT_HOST", hosts[0]))
    channels = {name: str(layout.input / "data" / name) for name in sorted(input_data_config)}
    training: dict[str, Any] = {
        "additional_framework_parameters": settings.framework_parameters,
        "channel_input_dirs": channels,
        "current_host": current,
        "framework_module": FRAMEWORK_MODULE,
        "hosts": hosts,
        "hyperparameters": settings.hyperparameters,
        "input_config_dir": str(layout.config),
        "input_data_config": dict(input_data_config),
        "input_dir": str(layout.input),
        "is_master": current == hosts[0],
        "job_name": env.get("TRAINING_JOB_NAME") or settings.job_name,
        "log_level": settings.log_level,
        "master_hostname": hosts[0],
        "model_dir": str(layout.model),
        "module_dir": settings.submit_directory,
        "module_name": settings.module_name,
        "network_interface_name": resource_config.get("network_interface_name", "lo"),
        "num_cpus": int(env.get("SM_NUM_CPUS") or os.cpu_count() or 1),
        "num_gpus": int(env.get("SM_NUM_GPUS") or 0),
        "output_data_dir": str(layout.output_data),
        "output_dir": str(layout.output),
        "output_intermediate_dir": str(layout.output / "intermediate"),
        "resource_config": dict(resource_config),
        "user_entry_point": settings.program,
    }
    # The supervisor named every staged folder a channel, the source directory too.
    result = {k: v for k, v in env.items() if not k.startswith(("SM_CHANNEL_", "SM_HP_"))}
    nested = ("additional_framework_parameters", "channel_input_dirs", "hyperparameters")
    for key, value in training.items():
        if key not in nested:
            result[f"SM_{key.upper()}"] = _env_value(value)
    result["SM_FRAMEWORK_PARAMS"] = _env_value(settings.framework_parameters)
    result["SM_HPS"] = _env_value(settings.hyperparameters)
    result["SM_USER_ARGS"] = _env_value(to_cmd_args(settings.hyperparameters))
    result["SM_CHANNELS"] = _env_value(list(channels))
    for name, path in channels.items():
        result[f"SM_CHANNEL_{name.upper()}"] = path
    for name, value in settings.hyperparameters.items():
        result[f"SM_HP_{name.upper()}"] = _env_value(value)
    result["SM_TRAINING_ENV"] = _env_value(training)
    result["SM_INPUT_DATA_CONFIG"] = _env_value(dict(input_data_config))
    result["SM_RESOURCE_CONFIG"] = _env_value(dict(resource_config))
    # The script imports its own modules, also from subprocesses (DataLoader workers).
    result["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(layout.code), env.get("PYTHONPATH", "")) if p
    )
    if settings.region:
        result.setdefault("AWS_REGION", settings.region)
    if settings.distributed:
        result.update(_distributed_environment(hosts, current, env))
    return result


def _resolves(host: str) -> bool:
    try:
        socket.gethostbyname(host)
    except OSError:
        return False
    return True


def _distributed_environment(
    hosts: list[str], current: str, env: Mapping[str, str]
) -> dict[str, str]:
    """torchrun's variables for one process per instance (CPU: gloo over loopback)."""
    master = hosts[0]
    if not _resolves(master):
        print(
            f"sagebox: WARNING: the host name {master} does not resolve on this machine (no "
            "mount namespace for a hosts file); MASTER_ADDR is 127.0.0.1, where every "
            "instance runs.",
            flush=True,
        )
        master = "127.0.0.1"
    rank = hosts.index(current) if current in hosts else 0
    values = {
        "MASTER_ADDR": master,
        "MASTER_PORT": env.get("SAGEBOX_MASTER_PORT") or DEFAULT_MASTER_PORT,
        "WORLD_SIZE": str(len(hosts)),
        "RANK": str(rank),
        "NODE_RANK": str(rank),
        "GROUP_RANK": str(rank),
        "LOCAL_RANK": "0",
        "LOCAL_WORLD_SIZE": "1",
    }
    if "GLOO_SOCKET_IFNAME" not in env:
        values["GLOO_SOCKET_IFNAME"] = "lo"  # every instance runs on this machine
    return values


# --- running the script -----------------------------------------------------------------


def _command(code: Path, settings: ScriptSettings) -> list[str]:
    program = code / settings.program
    if not program.is_file():
        found = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
        raise LaunchError(
            f"The entry point {settings.program!r} is not in the source directory "
            f"{settings.submit_directory} (it holds: {', '.join(found[:20]) or 'nothing'}). "
            f"Set {PROGRAM!r} to one of its files."
        )
    interpreter = ["/bin/sh"] if settings.program.endswith(".sh") else [sys.executable]
    return [*interpreter, settings.program, *to_cmd_args(settings.hyperparameters)]


def run_script(command: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, list[str]]:
    """Run the script, passing its output through; returns its exit code and last lines."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    # A stop signals the instance's whole process group, the script included; the launcher
    # outlives it to report how it ended (a forwarded copy would reach the script twice).
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    out = sys.stdout.buffer
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            out.write(raw)
            out.flush()
            tail.append(raw.decode("utf-8", "replace").rstrip("\n"))
        code = process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code, list(tail)


def user_script_error(code: int, tail: list[str], command: Sequence[str]) -> str:
    """The failure line SageMaker writes for a failed script, on one line."""
    message = traceback_tail(tail)
    if message is None:
        last = [line.strip() for line in tail if line.strip()]
        message = last[-1] if last else "(the script printed nothing)"
    shown = " ".join(["python" if c == sys.executable else c for c in command])
    return f'ExecuteUserScriptError: ExitCode {code} ErrorMessage "{message}" Command "{shown}"'


def _fail(layout: Layout, line: str) -> int:
    text = " ".join(line.split())
    print(f"sagebox: {text}", file=sys.stderr, flush=True)
    try:
        layout.output.mkdir(parents=True, exist_ok=True)
        (layout.output / "failure").write_text(text + "\n")
    except OSError as exc:
        print(f"sagebox: could not write the failure file: {exc}", file=sys.stderr)
    return 1


def launch(framework_requires: str | None, env: Mapping[str, str]) -> int:
    """Everything the toolkit does in the instance; the script's exit code."""
    layout = Layout.from_env(env)
    try:
        problem = missing_framework(framework_requires)
        if problem:
            raise LaunchError(problem)
        raw = layout.read_config("hyperparameters.json")
        try:
            settings = ScriptSettings.from_hyperparameters(raw)
        except ValidationError as exc:
            raise LaunchError(exc.message) from None
        resource_config = layout.read_config("resourceconfig.json")
        input_data_config = layout.read_config("inputdataconfig.json")
        stage_code(layout, settings)
        check_requirements(layout.code)
        command = _command(layout.code, settings)
        script_env = training_environment(layout, settings, resource_config, input_data_config, env)
    except LaunchError as exc:
        return _fail(layout, str(exc))
    for directory in (layout.model, layout.output_data):
        directory.mkdir(parents=True, exist_ok=True)
    print(f"Training Env:\n{script_env['SM_TRAINING_ENV']}", flush=True)
    print(f"Invoking script with the following command:\n{' '.join(command)}", flush=True)
    code, tail = run_script(command, layout.code, script_env)
    if code < 0:  # killed by a signal: the supervisor explains those (e.g. out of memory)
        return 128 - code
    if code != 0:
        _fail(layout, user_script_error(code, tail, command))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sagebox.runtime.script_mode [<framework>]``: the instance's program."""
    args = list(sys.argv[1:] if argv is None else argv)
    requires = None
    if args:
        from sagebox.runtime.images import REGISTRY

        requires = next((e.requires for e in REGISTRY if e.name == args[0]), None)
    return launch(requires, os.environ)


if __name__ == "__main__":
    sys.exit(main())
