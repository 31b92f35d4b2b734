"""A raw HTTP client for the emulator (and the real API): exact wire checks, no proxy, no retries.

Used by the test suite and handy for operators' own checks. ``http.client`` on purpose: nothing
between the test and the bytes on the wire, and no environment proxy for loopback traffic.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """``get("/youtube/v3/channels", part="id", id=["a", "b"])``: list values become repeated parameters."""

    def __init__(self, base_url: str, key: str | None = None, timeout: float = 10) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.key = key
        self.timeout = timeout

    def request(
        self, verb: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(verb, target, body=body, headers=headers or {})
            answer = conn.getresponse()
            return Answer(answer.status, answer.read(), {k.lower(): v for k, v in answer.getheaders()})
        finally:
            conn.close()

    def _query(self, params: dict[str, Any]) -> str:
        if self.key is not None and "key" not in params:
            params = {**params, "key": self.key}
        return urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)

    def get(self, path: str, **params: Any) -> Answer:
        query = self._query(params)
        return self.request("GET", f"{path}?{query}" if query else path)

    def post_override(self, path: str, **params: Any) -> Answer:
        """The form google-api-python-client sends for long URIs: POST, the query in the body."""
        return self.request(
            "POST",
            path,
            body=self._query(params).encode(),
            headers={"X-HTTP-Method-Override": "GET", "Content-Type": "application/x-www-form-urlencoded"},
        )

    def admin(self, verb: str, name: str, payload: Any = None, **params: Any) -> Answer:
        query = urlencode(params)
        body = None if payload is None else json.dumps(payload).encode()
        return self.request(
            verb,
            f"/_emulator/{name}" + (f"?{query}" if query else ""),
            body=body,
            headers={"Content-Type": "application/json"} if body is not None else None,
        )
