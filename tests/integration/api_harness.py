"""Fixtures for the HTTP API tests: the app served by a real uvicorn on a loopback port, over the real
services and a real worker, or ``ytcollect serve`` itself as a subprocess; tokens made the way
``ytcollect tokens create`` makes them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AMQP_URL, PG_URL
from tests.integration.pipeline_harness import KEYS, PIPELINE_REDIS_URL, RUN_FINISHED_QUEUE

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppServer:
    """An ASGI app on uvicorn in a background thread, on 127.0.0.1 and a free port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream response into ``{"id", "event", "data"}`` dicts as they arrive."""
    event: dict[str, Any] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:
                event["data"] = json.loads("\n".join(data))
                yield event
            event, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name in ("id", "event"):
                event[name] = value


def follow_sse(
    client: httpx.Client, path: str, token: str, *, last_event_id: str | None = None, timeout: float = 90
) -> list[dict[str, Any]]:
    """Every event of a run's SSE stream until the server closes it after ``finished``."""
    headers = bearer(token)
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    with client.stream("GET", path, headers=headers, timeout=httpx.Timeout(timeout, connect=5)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(response))


def services_env(emulator_url: str, **extra: str) -> dict[str, str]:
    """The environment of a ytcollect process on the test services (what docker compose would set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "REDIS_", "DATABASE_"))}
    env.update(
        BROKER_URL=AMQP_URL,
        REDIS_URL=PIPELINE_REDIS_URL,
        DATABASE_URL=PG_URL,
        YT_API_KEYS=",".join(KEYS),
        YOUTUBE_API_URL=emulator_url,
        RUN_FINISHED_QUEUE=RUN_FINISHED_QUEUE,
        METRICS_PORT="0",
        LOG_LEVEL="DEBUG",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def ytcollect(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd or ROOT, capture_output=True, text=True, timeout=120
    )


@contextmanager
def serve_process(env: dict[str, str], log_path: Path, *, cwd: Path | None = None) -> Iterator[str]:
    """``ytcollect serve`` as its own process; yields its URL; stops it (SIGTERM, then SIGKILL)."""
    port = free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=cwd or ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"ytcollect serve exited: {log_path.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("ytcollect serve did not answer /healthz within 60 s")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def tokens_of(pipeline_ctx: Any) -> dict[str, str]:
    """Tokens for owners ``alice`` and ``bob`` and an admin (owner ``ops``), stored hashed."""
    from pipeline.tokens import create_token

    made = {}
    for name, owner, admin in (("alice", "alice", False), ("bob", "bob", False), ("admin", "ops", True)):
        made[name], _info = create_token(pipeline_ctx.sessions, owner_id=owner, admin=admin)
    return made


@pytest.fixture
def api(pipeline_ctx: Any, worker: Any) -> Iterator[AppServer]:
    """The API on the real services, sending to RabbitMQ, with a real worker consuming."""
    from actors.dispatch import send_all
    from api import create_app

    with AppServer(create_app(pipeline_ctx, send=send_all)) as server:
        yield server


@pytest.fixture
def client(api: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30) as c:
        yield c
