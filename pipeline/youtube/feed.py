"""A channel's public feed, ``/feeds/videos.xml?channel_id=UC…``: the 15 newest videos, no key, no quota.

The zero-unit way to see whether a channel uploaded. Feeds have gone down for hours at a time
(2024; February and April 2026), so every failure is a :class:`FeedUnavailable` with a short reason
and the caller falls back to the uploads playlist. The document is parsed with the standard library's
expat (2.4+ refuses entity expansion attacks) and read only up to ``MAX_BYTES``.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

from pipeline.errors import YtCollectError
from pipeline.youtube.parsers import parse_timestamp
from pipeline.youtube.quota import utcnow
from pipeline.youtube.records import ApiCallRecord, FeedEntry

ENDPOINT = "feeds.videos"
MAX_BYTES = 2_000_000  # a real feed is about 30 kB
_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}


class FeedUnavailable(YtCollectError):
    """The feed did not answer with a usable document (``reason``: ``http503``, ``timeout``, ``invalid``…)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_feed(body: bytes) -> list[FeedEntry]:
    """The entries of an Atom channel feed, newest first as served; FeedUnavailable when it is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise FeedUnavailable("the feed is not well-formed XML", reason="invalid") from None
    if root.tag != f"{{{_NS['atom']}}}feed":
        raise FeedUnavailable("the answer is not an Atom feed", reason="invalid")
    entries = []
    for entry in root.findall("atom:entry", _NS):
        video_id = (entry.findtext("yt:videoId", default="", namespaces=_NS) or "").strip()
        if not video_id:
            continue
        title = entry.findtext("atom:title", default="", namespaces=_NS) or ""
        published = parse_timestamp(
            (entry.findtext("atom:published", default="", namespaces=_NS) or "").strip()
        )
        entries.append(FeedEntry(video_id=video_id, title=title, published_at=published))
    return entries


class FeedReader:
    """Reads channel feeds from ``base_url`` (www.youtube.com, or the emulator), never through a proxy."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 15.0,
        sink: Callable[[ApiCallRecord], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.sink = sink
        self._clock = clock
        # An empty ProxyHandler: http_proxy must never route loopback traffic to the emulator.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def entries(self, channel_id: str, *, run_id: str | None = None) -> list[FeedEntry]:
        """The channel's newest entries; raises FeedUnavailable on any failure (the caller falls back)."""
        url = f"{self.base_url}/feeds/videos.xml?" + urllib.parse.urlencode({"channel_id": channel_id})
        at = self._clock()
        started = time.perf_counter()
        status: int | None = None
        try:
            try:
                with self._opener.open(url, timeout=self.timeout) as response:
                    status = response.status
                    body = response.read(MAX_BYTES + 1)
            except urllib.error.HTTPError as exc:
                status = exc.code
                raise FeedUnavailable(
                    f"the feed answered HTTP {exc.code}", reason=f"http{exc.code}"
                ) from None
            except TimeoutError:
                raise FeedUnavailable(f"no feed within {self.timeout}s", reason="timeout") from None
            except (OSError, ValueError) as exc:
                raise FeedUnavailable(
                    f"the feed could not be read ({type(exc).__name__})", reason="connection"
                ) from None
            if len(body) > MAX_BYTES:
                raise FeedUnavailable("the feed is larger than any real one", reason="too_large")
            found = parse_feed(body)
        except FeedUnavailable as exc:
            self._report(exc.reason, status, started, at, run_id)
            raise
        self._report("ok" if found else "empty", status, started, at, run_id)
        return found

    def _report(
        self, outcome: str, status: int | None, started: float, at: datetime, run_id: str | None
    ) -> None:
        if self.sink is None:
            return
        latency = round((time.perf_counter() - started) * 1000.0, 3)
        self.sink(
            ApiCallRecord(
                endpoint=ENDPOINT,
                key_fingerprint=None,
                units=0,
                outcome=outcome,
                http_status=status,
                latency_ms=latency,
                at=at,
                run_id=run_id,
            )
        )
