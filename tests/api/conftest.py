"""A real sagebox server on loopback whose limits a test chooses (throttle, origins)."""

from __future__ import annotations

import configparser
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningServer

Serve = Callable[..., RunningServer]


@pytest.fixture
def serve(home_path: Path) -> Iterator[Serve]:
    """``serve(rate=2, burst=3, allowed_origins=(...))`` starts a server on the test's home.

    The servers run in this process, each on its own thread, and stop when the test ends.
    """
    import uvicorn

    from sagebox.api.app import Server, build_app
    from sagebox.home import Home

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(
        *, rate: float = 100.0, burst: float = 200.0, allowed_origins: tuple[str, ...] = ()
    ) -> RunningServer:
        home = Home.open(home_path)
        app = build_app(
            home,
            allowed_origins=allowed_origins,
            server=Server(home, rate=rate, burst=burst),
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        from sagebox.api.front import front_protocol

        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", http=front_protocol(app)
        )  # as `sagebox server` runs it
        instance = uvicorn.Server(config)
        thread = threading.Thread(target=instance.run, daemon=True)
        thread.start()
        running.append((instance, thread))
        deadline = time.monotonic() + 20
        while not instance.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        credentials = configparser.ConfigParser()
        credentials.read(home.credentials_path)
        return RunningServer(
            f"http://127.0.0.1:{port}",
            home_path,
            home.region,
            credentials["default"]["aws_access_key_id"],
            credentials["default"]["aws_secret_access_key"],
        )

    yield start
    for instance, thread in running:
        instance.should_exit = True
        thread.join(timeout=10)
