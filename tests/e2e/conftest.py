"""A real sagebox server on loopback, and boto3 clients signed with real keys."""

from __future__ import annotations

import configparser
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class RunningServer:
    url: str
    home_path: Path
    region: str
    key_id: str
    secret: str

    def client(
        self,
        service: str,
        key_id: str | None = None,
        secret: str | None = None,
        token: str | None = None,
        **config: Any,
    ) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=key_id or self.key_id,
            aws_secret_access_key=secret or self.secret,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(home_path: Path) -> Iterator[RunningServer]:
    import uvicorn

    from sagebox.api.app import build_app
    from sagebox.home import Home

    home = Home.open(home_path)
    port = _free_port()
    from sagebox.api.front import front_protocol

    app = build_app(home)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        http=front_protocol(app),  # as `sagebox server` runs it
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    credentials = configparser.ConfigParser()
    credentials.read(home.credentials_path)
    yield RunningServer(
        f"http://127.0.0.1:{port}",
        home_path,
        home.region,
        credentials["default"]["aws_access_key_id"],
        credentials["default"]["aws_secret_access_key"],
    )
    instance.should_exit = True
    thread.join(timeout=10)


from tests.serving.hosting import endpoints  # noqa: E402, F401  (fixture: endpoints removed after)
