"""The routing table of an endpoint: which workers serve each production variant now.

The endpoint's host process writes ``<home>/endpoints/<name>/routes.json`` whenever what
serves the endpoint changes (created, updated, weights changed), replacing it atomically;
callers (the HTTP server, an embedded session, a CLI call) read it before each request,
re-parsing only when the file changed. No file means the endpoint serves nothing.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sagebox.files import write_text

__all__ = [
    "EndpointRoutes",
    "RoutesCache",
    "VariantRoute",
    "endpoint_dir",
    "remove_routes",
    "write_routes",
]


def endpoint_dir(home: Path, endpoint: str) -> Path:
    """Where an endpoint's host keeps its files: routes, pid, staged models, sockets."""
    return home / "endpoints" / endpoint


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    # Unix sockets to forward to: one per worker of a real-time variant; the serverless
    # gateway's one socket for a serverless variant.
    sockets: tuple[str, ...]
    serverless: bool = False
    max_concurrency: int | None = None  # ServerlessConfig.MaxConcurrency


@dataclass(frozen=True)
class EndpointRoutes:
    endpoint: str
    arn: str
    generation: int  # grows with every update of the endpoint
    config_name: str
    variants: tuple[VariantRoute, ...]
    capture: dict[str, Any] | None = None  # the config's DataCaptureConfig, as given

    def variant(self, name: str) -> VariantRoute | None:
        return next((v for v in self.variants if v.name == name), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EndpointRoutes:
        data = json.loads(text)
        variants = tuple(
            VariantRoute(**{**v, "sockets": tuple(v["sockets"])}) for v in data.pop("variants")
        )
        return cls(**data, variants=variants)


def write_routes(home: Path, routes: EndpointRoutes) -> None:
    """Publish ``routes`` for its endpoint atomically."""
    folder = endpoint_dir(home, routes.endpoint)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "routes.json", routes.to_json())


def remove_routes(home: Path, endpoint: str) -> None:
    """Stop routing to ``endpoint``: callers see it as not InService from now on."""
    (endpoint_dir(home, endpoint) / "routes.json").unlink(missing_ok=True)


class RoutesCache:
    """Reads routes files, re-parsing one only when its modification stamp changed.

    Thread-safe. A stat per call is the whole cost of an unchanged table.
    """

    def __init__(self, home: Path) -> None:
        self._home = home
        self._cache: dict[str, tuple[int, int, EndpointRoutes]] = {}
        self._paths: dict[str, str] = {}
        self._lock = threading.Lock()

    def _path(self, endpoint: str) -> str:
        path = self._paths.get(endpoint)
        if path is None:
            path = str(endpoint_dir(self._home, endpoint) / "routes.json")
            if len(self._paths) < 10_000:  # names of endpoints asked for, not a leak
                self._paths[endpoint] = path
        return path

    def get(self, endpoint: str) -> EndpointRoutes | None:
        path = self._path(endpoint)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self._cache.pop(endpoint, None)
            return None
        stamp = (stat.st_mtime_ns, stat.st_ino)
        cached = self._cache.get(endpoint)
        if cached is not None and cached[:2] == stamp:
            return cached[2]
        try:
            with open(path, encoding="utf-8") as handle:
                routes = EndpointRoutes.from_json(handle.read())
        except FileNotFoundError:
            return None
        with self._lock:
            self._cache[endpoint] = (*stamp, routes)
        return routes
