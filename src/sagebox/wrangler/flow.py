"""The flow document: a data source plus an ordered list of steps, as a typed value.

A flow's JSON document::

    {"Name": "loans",
     "Source": {"Uri": "s3://raw/applications/", "Format": "jsonl", "CsvHeader": true,
                "CsvDelimiter": ",", "Compression": "auto"},
     "ErrorPolicy": "fail",          # malformed source rows: fail | skip | quarantine
     "BatchRows": 65536,
     "Steps": [{"Id": "flatten-1", "Type": "flatten", "Parameters": {"column": "applicant"}},
               ...]}

:meth:`Flow.parse` validates all of it, every step's parameters against its declared
constraints included, so a stored or exported flow is always one that can run.
``Flow`` values are immutable: ``add`` returns a new flow.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

from sagebox.data.formats import DataSource
from sagebox.errors import ValidationError
from sagebox.store.objects import parse_s3_uri
from sagebox.wrangler import registry, versions
from sagebox.wrangler.engine import StepPreview, preview_steps
from sagebox.wrangler.export import export_flow

if TYPE_CHECKING:
    from sagebox.session import Session

ErrorPolicy = Literal["fail", "skip", "quarantine"]
ERROR_POLICIES: tuple[str, ...] = get_args(ErrorPolicy)
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
STEP_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
DEFAULT_BATCH_ROWS = 65536
_FLOW_KEYS = ("Name", "Source", "ErrorPolicy", "BatchRows", "Steps")
_SOURCE_KEYS = {
    "Uri": "uri",
    "Format": "format",
    "CsvHeader": "csv_header",
    "CsvDelimiter": "csv_delimiter",
    "Compression": "compression",
}


def _check_keys(document: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in document if k not in allowed]
    if unknown:
        raise ValidationError(
            f"{where} has the unknown field(s) {', '.join(map(repr, unknown))}. "
            f"Its fields are: {', '.join(allowed)}."
        )


def _frozen(parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(copy.deepcopy(dict(parameters)))


@dataclass(frozen=True)
class Step:
    """One transform of a flow: ``Type`` names it in the registry, ``Parameters`` are
    the ones given (validated; defaults are not written into the document)."""

    id: str
    type: str
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not STEP_ID_PATTERN.match(self.id):
            raise ValidationError(
                f"The step id {self.id!r} is not valid: use 1 to 128 letters, digits, '-', "
                "'_' or '.', starting with a letter or digit."
            )
        try:
            json.dumps(dict(self.parameters))
        except (TypeError, ValueError):
            raise ValidationError(
                f"The parameters of step {self.id!r} must be JSON values (strings, numbers, "
                "booleans, lists, objects)."
            ) from None
        try:
            registry.validate(self.type, self.parameters)
        except ValidationError as error:
            raise ValidationError(f"Step {self.id!r}: {error.message}") from None
        object.__setattr__(self, "parameters", _frozen(self.parameters))

    def to_document(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Type": self.type,
            "Parameters": copy.deepcopy(dict(self.parameters)),
        }

    @classmethod
    def from_document(cls, document: Any, where: str) -> Step:
        if not isinstance(document, Mapping):
            raise ValidationError(f"{where} must be an object with Id, Type and Parameters.")
        _check_keys(document, ("Id", "Type", "Parameters"), where)
        for key in ("Id", "Type"):
            if not isinstance(document.get(key), str):
                raise ValidationError(f"{where}.{key} is required and must be a string.")
        parameters = document.get("Parameters", {})
        if not isinstance(parameters, Mapping):
            raise ValidationError(f"{where}.Parameters must be an object; got {parameters!r}.")
        return cls(document["Id"], document["Type"], parameters)


def _source_document(source: DataSource) -> dict[str, Any]:
    return {key: getattr(source, attribute) for key, attribute in _SOURCE_KEYS.items()}


def _parse_source(document: Any) -> DataSource:
    if not isinstance(document, Mapping) or not isinstance(document.get("Uri"), str):
        raise ValidationError(
            'The flow\'s Source must be an object with a Uri, e.g. {"Uri": "s3://bucket/raw/", '
            '"Format": "jsonl"}.'
        )
    _check_keys(document, tuple(_SOURCE_KEYS), "Source")
    return DataSource(**{_SOURCE_KEYS[k]: v for k, v in document.items()})


@dataclass(frozen=True)
class Flow:
    """A Data Wrangler flow: where the data comes from and the steps that prepare it.

    ``version`` is set on a flow that was saved or loaded; it does not take part in
    equality (two flows with the same content are equal).
    """

    name: str
    source: DataSource
    steps: tuple[Step, ...] = ()
    error_policy: ErrorPolicy = "fail"
    batch_rows: int = DEFAULT_BATCH_ROWS
    version: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise ValidationError(
                f"The flow name {self.name!r} is not valid: use 1 to 63 letters, digits and "
                "hyphens, starting and ending with a letter or digit."
            )
        if not isinstance(self.source, DataSource):
            raise ValidationError(
                "A flow's source must be a sagebox.data.formats.DataSource, e.g. "
                "DataSource('s3://bucket/raw/', format='jsonl')."
            )
        parse_s3_uri(self.source.uri)
        if self.error_policy not in ERROR_POLICIES:
            raise ValidationError(
                f"The flow's error policy must be one of {', '.join(ERROR_POLICIES)}. "
                f"Got {self.error_policy!r} instead."
            )
        if (
            isinstance(self.batch_rows, bool)
            or not isinstance(self.batch_rows, int)
            or not (1 <= self.batch_rows <= 10_000_000)
        ):
            raise ValidationError(
                f"The flow's batch_rows must be an int in [1, 10000000]. Got {self.batch_rows!r}."
            )
        object.__setattr__(self, "steps", tuple(self.steps))
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValidationError(
                    f"Two steps have the id {step.id!r}; step ids must be unique in a flow."
                )
            seen.add(step.id)

    # -- editing ---------------------------------------------------------------------
    def add(self, step_type: str, *, step_id: str | None = None, **parameters: Any) -> Flow:
        """This flow with a new last step (validated now); ids default to ``<type>-<n>``."""
        if step_id is None:
            taken = {s.id for s in self.steps}
            number = 1
            while f"{step_type}-{number}" in taken:
                number += 1
            step_id = f"{step_type}-{number}"
        step = Step(step_id, step_type, parameters)
        return replace(self, steps=(*self.steps, step), version=None)

    def remove(self, step_id: str) -> Flow:
        """This flow without the step ``step_id``."""
        if step_id not in {s.id for s in self.steps}:
            raise ValidationError(
                f"The flow {self.name!r} has no step {step_id!r}. Its steps are: "
                f"{', '.join(s.id for s in self.steps) or '(none)'}."
            )
        return replace(self, steps=tuple(s for s in self.steps if s.id != step_id), version=None)

    # -- the document ----------------------------------------------------------------
    def to_document(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Source": _source_document(self.source),
            "ErrorPolicy": self.error_policy,
            "BatchRows": self.batch_rows,
            "Steps": [s.to_document() for s in self.steps],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_document(), indent=indent)

    @classmethod
    def parse(cls, document: str | bytes | Mapping[str, Any], version: int | None = None) -> Flow:
        """A flow from its JSON document (text or parsed), fully validated."""
        if isinstance(document, str | bytes):
            try:
                document = json.loads(document)
            except ValueError as error:
                raise ValidationError(f"The flow document is not valid JSON: {error}.") from None
        if not isinstance(document, Mapping):
            raise ValidationError("A flow document must be a JSON object with Name and Source.")
        _check_keys(document, _FLOW_KEYS, "The flow document")
        if "Name" not in document:
            raise ValidationError("The flow document needs a Name.")
        steps = document.get("Steps", [])
        if not isinstance(steps, list):
            raise ValidationError("The flow's Steps must be a list of steps.")
        return cls(
            name=document["Name"],
            source=_parse_source(document.get("Source")),
            steps=tuple(Step.from_document(s, f"Steps[{i}]") for i, s in enumerate(steps)),
            error_policy=document.get("ErrorPolicy", "fail"),
            batch_rows=document.get("BatchRows", DEFAULT_BATCH_ROWS),
            version=version,
        )

    # -- the SDK ---------------------------------------------------------------------
    def save(self, session: Session) -> int:
        """Store this flow as the next version of its name; returns the version number."""
        return versions.save(session, self.name, self.to_document())

    @classmethod
    def load(cls, session: Session, name: str, version: int | None = None) -> Flow:
        """Version ``version`` of the stored flow ``name`` (the latest by default)."""
        document, number = versions.load(session, name, version)
        return cls.parse(document, version=number)

    def preview(self, session: Session, rows: int = 100) -> list[StepPreview]:
        """Each step's output on the first ``rows`` rows of the source."""
        return preview_steps(self, session.objects, rows)

    def export(
        self,
        session: Session,
        output_uri: str,
        *,
        format: str = "parquet",
        label_column: str | None = None,
        wait: bool = True,
        logs: bool = False,
        instance_type: str = "ml.m5.xlarge",
        job_name: str | None = None,
        role: str | None = None,
    ) -> str:
        """Run the flow over all of the data in a processing job; returns the job's name.

        Writes Parquet or CSV under ``output_uri`` (one folder per part when the flow ends
        in a split) and ``report.json`` next to it. With ``label_column`` the CSV is what
        SageMaker's built-in algorithms read: that column first and no header.
        """
        return export_flow(
            self,
            session,
            output_uri,
            format=format,
            label_column=label_column,
            wait=wait,
            logs=logs,
            instance_type=instance_type,
            job_name=job_name,
            role=role,
        )
