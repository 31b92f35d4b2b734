"""Run the emulator under uvicorn, in a background thread (tests, the demo) or in the foreground (CLI)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from typing import Any

import uvicorn

from emulator.app import Emulator
from emulator.catalogue import Catalogue
from emulator.config import EmulatorConfig


def uvicorn_config(app: Emulator, **overrides: Any) -> uvicorn.Config:
    """uvicorn with its fastest parts when installed (httptools, uvloop), quiet, and no logging setup."""
    options: dict[str, Any] = {
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "lifespan": "off",
        "access_log": False,
        "log_config": None,  # never reconfigure the host process's logging
        "log_level": "warning",
        "timeout_keep_alive": 30,
        "timeout_graceful_shutdown": 3,
        "backlog": 2048,
        "server_header": False,  # the app says "server: ESF", as Google's front end does
        "proxy_headers": False,  # loopback only: no X-Forwarded-* to trust, and one wrapper less per call
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)


class EmulatorServer:
    """An emulator serving HTTP on ``host:port`` (port 0 picks a free one) from a background thread.

    ``start()`` (or entering the ``with`` block) returns once the server answers; ``stop()`` (or
    leaving it) shuts it down and leaves no thread or socket behind.
    """

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self.emulator = Emulator(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # --- lifecycle -----------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> EmulatorServer:
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(self.emulator))
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"ytcollect-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            if self._answers():
                return self
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start on {self.base_url}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"{self.base_url}/_emulator/health", timeout=1
            ) as answer:
                return answer.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Shut the server down and wait for its thread; idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            if self._thread.is_alive():  # pragma: no cover - a stuck connection; force it
                self._server.force_exit = True  # type: ignore[union-attr]
                self._thread.join(timeout=5)
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests and the demo use ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The API's host root (``http://127.0.0.1:PORT``), without ``/youtube/v3``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def catalogue(self) -> Catalogue:
        return self.emulator.catalogue

    def usage(self) -> dict:
        """The same document as ``GET /_emulator/usage``."""
        return json.loads(json.dumps(self.emulator.usage()))

    def set_faults(
        self, faults: list[dict] | dict | None = None, latency_ms: float | dict | None = None
    ) -> dict:
        """Replace the fault plan, as ``POST /_emulator/faults``; returns the plan.

        ``set_faults([{"endpoint": "channels.list", "kind": "backend_503", "count": 2}], latency_ms=50)``,
        or the POST body itself (``set_faults({"faults": [...], "latency_ms": {...}})``);
        ``set_faults()`` clears every fault and restores the configured latency.
        """
        if isinstance(faults, dict):
            return self.emulator.faults.set(faults)
        spec: dict[str, Any] = {"faults": faults or []}
        if latency_ms is not None:
            spec["latency_ms"] = latency_ms
        return self.emulator.faults.set(spec)

    def advance_clock(self, delta: timedelta | float) -> datetime:
        return self.emulator.clock.advance(delta)

    def set_clock(self, moment: datetime) -> datetime:
        return self.emulator.clock.set(moment)

    def now(self) -> datetime:
        return self.emulator.clock.now()

    def reset(self) -> None:
        """Usage, quota, faults, clock and the uploads added or videos removed since, back to their start."""
        self.emulator.reset()

    def add_uploads(
        self, channel_id: str, count: int = 1, shorts: int = 0, scheduled_seconds: float = 0.0
    ) -> list[str]:
        """Upload videos to a channel now, as ``POST /_emulator/uploads``; their ids, oldest first."""
        return self.emulator.add_uploads(channel_id, count, shorts, scheduled_seconds)

    def remove_videos(self, video_ids: list[str]) -> dict[str, list[str]]:
        """Remove videos, as ``POST /_emulator/remove``."""
        return self.emulator.remove_videos(video_ids)

    def feed_url(self, channel_id: str) -> str:
        """The public feed of a channel on this emulator (YouTube's is under https://www.youtube.com)."""
        return f"{self.base_url}/feeds/videos.xml?channel_id={channel_id}"


def serve_forever(
    emulator: Emulator, host: str = "127.0.0.1", port: int = 8765, **uvicorn_options: Any
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C or SIGTERM): the CLI's and the benchmark's way."""
    uvicorn.Server(uvicorn_config(emulator, host=host, port=port, **uvicorn_options)).run()
