"""What a crawler finds under an S3 target: tables, their files, partitions and schema.

Grouping follows Glue's built-in behaviour:

- objects whose names start with ``_`` or ``.`` (``_SUCCESS``, ``_temporary/``), empty
  objects, checksums and folder markers, and objects matching the target's
  ``Exclusions`` (globs relative to the path: ``*`` within a folder, ``**`` across
  folders) are ignored;
- when files lie directly under the path, or every first-level folder is a Hive
  partition (``year=2024``), the path itself is one table; otherwise each first-level
  folder is a table;
- below a table's location, folders are partitions: ``key=value`` gives the key ``key``,
  a plain folder ``2024`` the key ``partition_N`` (N its depth), as Glue names them. A
  key is typed ``bigint`` when every value of it is a whole number, else ``string``;
- a table's format is its files' format (by extension, else content); its columns are
  the union of the schemas of its files, by name. CSV headers follow Glue's rule: the
  first row is a header only when some column's values are not all strings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sagebox.glue.catalog import catalog_name
from sagebox.store.objects import ObjectInfo, ObjectStore, parse_s3_uri

if TYPE_CHECKING:
    import pyarrow as pa

HEAD_BYTES = 8192
_INT = re.compile(r"-?\d{1,18}")


@dataclass(frozen=True)
class S3Target:
    path: str
    exclusions: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataFile:
    info: ObjectInfo
    folders: tuple[str, ...]  # partition folders between the table location and the file

    @property
    def uri(self) -> str:
        return f"s3://{self.info.bucket}/{self.info.key}"


@dataclass
class FoundTable:
    """One table as found in the store, before it meets the catalog."""

    name: str
    location: str  # s3://bucket/prefix/
    files: list[DataFile]
    partition_keys: list[str] = field(default_factory=list)
    key_types: list[str] = field(default_factory=list)
    classification: str = ""
    schema: pa.Schema | None = None
    csv_header: bool = True
    csv_delimiter: str = ","
    compressed: bool = False
    notes: list[str] = field(default_factory=list)

    def partition_values(self, data_file: DataFile) -> tuple[str, ...]:
        return tuple(
            folder.partition("=")[2] if "=" in folder else folder for folder in data_file.folders
        )

    def partition_locations(self) -> dict[tuple[str, ...], str]:
        """Each partition's values and its folder's URI."""
        return {
            self.partition_values(f): self.location + "".join(f"{d}/" for d in f.folders)
            for f in self.files
        }


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Glue exclusion glob as a regex over keys relative to the target path."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "{":
            end = pattern.find("}", i)
            if end > i:
                choices = pattern[i + 1 : end].split(",")
                out.append("(?:" + "|".join(re.escape(c) for c in choices) + ")")
                i = end + 1
                continue
            out.append(re.escape(char))
        elif char == "[":
            end = pattern.find("]", i)
            if end > i:
                out.append(pattern[i : end + 1])
                i = end + 1
                continue
            out.append(re.escape(char))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def table_name(raw: str, prefix: str) -> str:
    """A Glue table name for a folder: lower case, other characters as ``_``."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", raw.lower()).strip("_") or "table"
    return catalog_name(prefix.lower() + cleaned, "table")


def _listed(store: ObjectStore, target: S3Target) -> tuple[str, str, list[tuple[str, ObjectInfo]]]:
    uri = parse_s3_uri(target.path)
    prefix = uri.key.rstrip("/") + "/" if uri.key.strip("/") else ""
    excluded = [glob_regex(p) for p in target.exclusions]
    found = []
    for info in store.iter_objects(uri.bucket, prefix):
        relative = info.key[len(prefix) :]
        parts = relative.split("/")
        if info.size == 0 or relative.endswith(("/", ".crc", "$folder$")):
            continue  # folder markers, checksums and empty objects hold no rows
        if any(p.startswith(("_", ".")) for p in parts if p):
            continue
        if any(rx.fullmatch(relative) for rx in excluded):
            continue
        found.append((relative, info))
    return uri.bucket, prefix, found


def find_tables(store: ObjectStore, target: S3Target, table_prefix: str) -> list[FoundTable]:
    """The tables under one target, each with its files and partition folders."""
    bucket, prefix, objects = _listed(store, target)
    base = f"s3://{bucket}/{prefix}"
    first_levels = {rel.split("/", 1)[0] for rel, _ in objects if "/" in rel}
    direct = any("/" not in rel for rel, _ in objects)
    if direct or (first_levels and all("=" in f for f in first_levels)):
        leaf = prefix.rstrip("/").rsplit("/", 1)[-1] or bucket
        groups = {"": objects}
        names = {"": table_name(leaf, table_prefix)}
    else:
        groups = {}
        for rel, info in objects:
            folder, _, rest = rel.partition("/")
            groups.setdefault(folder, []).append((rest, info))
        names = {folder: table_name(folder, table_prefix) for folder in groups}
    tables = []
    for folder, members in sorted(groups.items()):
        location = base + (f"{folder}/" if folder else "")
        files = [DataFile(info, tuple(rel.split("/")[:-1])) for rel, info in members]
        tables.append(_partitioned(FoundTable(names[folder], location, files)))
    return tables


def _key_of(folder: str, depth: int) -> str:
    return folder.partition("=")[0].lower() if "=" in folder else f"partition_{depth}"


def _partitioned(table: FoundTable) -> FoundTable:
    """Partition keys from the first file's folders; files laid out otherwise are noted."""
    if not table.files:
        return table
    table.files.sort(key=lambda f: f.info.key)
    first = table.files[0]
    keys = [_key_of(f, i) for i, f in enumerate(first.folders)]
    kept = []
    for data_file in table.files:
        layout = [_key_of(f, i) for i, f in enumerate(data_file.folders)]
        if layout != keys:
            table.notes.append(
                f"skipped {data_file.uri}: its folders ({'/'.join(data_file.folders) or 'none'}) "
                f"do not follow the table's partition layout ({'/'.join(keys) or 'none'})"
            )
            continue
        kept.append(data_file)
    table.files = kept
    table.partition_keys = keys
    values = [table.partition_values(f) for f in kept]
    table.key_types = [
        "bigint" if all(_INT.fullmatch(v[i]) for v in values) else "string"
        for i in range(len(keys))
    ]
    return table


def _head(store: ObjectStore, info: ObjectInfo) -> bytes:
    _, stream = store.open_object(info.bucket, info.key)
    with stream:
        return stream.read(HEAD_BYTES)


def _delimiter(head: bytes) -> str:
    import zlib

    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
        except zlib.error:
            return ","
    line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    counts = {d: line.count(d) for d in (",", "\t", "|", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def describe(
    store: ObjectStore, table: FoundTable, should_stop: Callable[[], bool] = lambda: False
) -> FoundTable:
    """Fill in the table's format and schema from its files (each file's schema is read)."""
    from sagebox.data.formats import DataSource, detect_format, is_gzip
    from sagebox.data.readers import infer_schema

    formats: dict[str, str] = {}
    heads: dict[str, bytes] = {}
    for data_file in table.files:
        head = _head(store, data_file.info)
        heads[data_file.uri] = head
        try:
            formats[data_file.uri] = detect_format(data_file.info.key, head)
        except Exception as error:  # a file of no known format is skipped, not fatal
            table.notes.append(f"skipped {data_file.uri}: {getattr(error, 'message', error)}")
    if not formats:
        table.files = []
        return table
    majority = Counter(formats.values()).most_common(1)[0][0]
    kept = []
    for data_file in table.files:
        found = formats.get(data_file.uri)
        if found is None:
            continue
        if found != majority:
            table.notes.append(f"skipped {data_file.uri}: {found} among {majority} files")
            continue
        kept.append(data_file)
    table.files = kept
    table.classification = "json" if majority == "jsonl" else majority
    table.compressed = any(is_gzip(f.info.key, heads[f.uri]) for f in kept)
    if majority == "csv":
        table.csv_delimiter = _delimiter(heads[kept[0].uri])
    schemas: list[pa.Schema] = []
    for data_file in kept:
        if should_stop():
            break
        source = DataSource(
            data_file.uri,
            format=majority,  # type: ignore[arg-type]
            csv_header=True,
            csv_delimiter=table.csv_delimiter,
        )
        schemas.append(infer_schema(store, source))
    if majority == "csv":
        table.csv_header = _has_header(schemas)
        if not table.csv_header:
            schemas = [_positional(s) for s in schemas]
    table.schema = unify(schemas, table.notes)
    return table


def _has_header(schemas: Iterable[pa.Schema]) -> bool:
    """Glue's rule: a header row only when some column is not all strings."""
    import pyarrow.types as t

    return any(not (t.is_string(f.type) or t.is_null(f.type)) for s in schemas for f in s)


def _positional(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(f"col{i}", pa.string()) for i in range(len(schema))])


def unify(schemas: Sequence[pa.Schema], notes: list[str]) -> pa.Schema:
    """One schema for many files: columns by name (lower case), types widened, conflicts
    made ``string`` and noted."""
    import pyarrow as pa

    order: list[str] = []
    types: dict[str, list[pa.DataType]] = {}
    for schema in schemas:
        for column in schema:
            name = column.name.lower()
            if name not in types:
                order.append(name)
                types[name] = []
            types[name].append(column.type)
    fields = []
    for name in order:
        candidates = [pa.schema([pa.field(name, dtype)]) for dtype in types[name]]
        try:
            fields.append(pa.unify_schemas(candidates, promote_options="permissive")[0])
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            seen = ", ".join(sorted({str(d) for d in types[name]}))
            notes.append(f"column {name} has conflicting types across files ({seen}); typed string")
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)
