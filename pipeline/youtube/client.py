"""The YouTube Data API client: quota-first, key-rotating, retrying, and unable to leak a key.

Every request reserves its cost in its method's bucket of the
:class:`~pipeline.youtube.quota.QuotaLedger` before it is sent, runs on a fresh ``httplib2.Http``
(the shared one is not thread-safe) with a timeout and no proxy, and reports an
:class:`ApiCallRecord` to the sink. Answers steer the key pool: ``quotaExceeded`` spends that key's
bucket for its Pacific day (and, not billed by the API, gives the reservation back), bad-key answers
disable the whole key, and either way the call moves to another key at once. A request that never
left (connection refused, unknown host, a certificate refused) is given back too and recorded at 0. Transient failures are retried with our own bounded, full-jitter
backoff (never googleapiclient's ``num_retries``). Whatever goes wrong leaves as one of the
project's exceptions, raised outside the ``except`` block that caught the vendor error, so neither
``__cause__`` nor ``__context__`` carries the ``HttpError`` whose URL holds ``key=``.
"""

from __future__ import annotations

import http.client
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from pipeline.youtube import parsers
from pipeline.youtube.errors import (
    MethodUnavailable,
    NoApiKeys,
    PermanentYouTubeError,
    QuotaExhausted,
    TransientYouTubeError,
)
from pipeline.youtube.parsers import ApiFailure
from pipeline.youtube.quota import Lease, QuotaLedger, cost_of, utcnow
from pipeline.youtube.records import (
    ApiCallRecord,
    ChannelRecord,
    SearchHit,
    SearchResult,
    UploadItem,
    VideoRecord,
)
from pipeline.youtube.redact import install_log_redaction, redact

log = logging.getLogger(__name__)

REAL_API_URL = "https://youtube.googleapis.com"
CHANNEL_PARTS = "snippet,statistics,contentDetails"  # one unit whatever the parts: ask for all at once
MAX_IDS = 50
# Failures raised before any byte of the request left: the API never saw (nor billed) the request.
_NEVER_SENT: tuple[type[BaseException], ...] = (
    ConnectionRefusedError,
    httplib2.ServerNotFoundError,  # DNS
    ssl.SSLCertVerificationError,  # refused during the TLS handshake (a bad or mismatched certificate)
)
VIDEO_PARTS = "snippet,contentDetails,statistics"
STATS_PARTS = "snippet,statistics,contentDetails"
# An id batch answers in one page in practice; should the API ever paginate it, follow at most this
# many pages (50 ids at the smallest page size of 5) rather than silently dropping ids.
_MAX_ID_PAGES = 10

Sink = Callable[[ApiCallRecord], None]
RequestFactory = Callable[[Any], Any]  # (service resource) -> googleapiclient HttpRequest


class YouTubeClient:
    """The calls the pipeline needs, each costing as few units as the API allows."""

    def __init__(
        self,
        *,
        base_url: str,
        ledger: QuotaLedger,
        sink: Sink | None = None,
        timeout: float = 15.0,
        max_attempts: int = 4,
        backoff_base: float = 0.25,
        backoff_max: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        http_factory: Callable[[float], Any] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        install_log_redaction()
        # googleapiclient joins method paths ("youtube/v3/channels") onto this root.
        root = base_url.strip().rstrip("/")
        root = root.removesuffix("/youtube/v3")
        self.base_url = root + "/"
        self.ledger = ledger
        self.sink = sink
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        # Makes the Http each request runs on; tests hand in a scripted one, nothing else should.
        self._http_factory = http_factory or _fresh_http
        # Building a discovery resource parses the whole YouTube document (the costly part), so one
        # is built per key and shared; requests never use its Http (each call brings its own).
        self._services: dict[str, Any] = {}
        self._services_lock = threading.Lock()

    def channels_by_ids(
        self, ids: Sequence[str], *, run_id: str | None = None, priority: str = "interactive"
    ) -> dict[str, ChannelRecord]:
        """Up to 50 channels by id in one unit; ids the API does not know are simply absent."""
        unique = _batch(ids)
        if not unique:
            return {}
        joined = ",".join(unique)
        found: dict[str, ChannelRecord] = {}
        for page in self._id_pages(
            "channels.list",
            lambda svc, token: svc.channels().list(part=CHANNEL_PARTS, id=joined, **_page(token)),
            run_id=run_id,
            priority=priority,
        ):
            found.update(parsers.channels_by_id(page))
        return found

    def channel_by_handle(
        self, handle: str, *, run_id: str | None = None, priority: str = "interactive"
    ) -> ChannelRecord | None:
        """The channel with this handle (with or without ``@``, any case), metadata included."""
        handle = _single(handle, "handle")
        return self._one_channel(
            lambda svc: svc.channels().list(part=CHANNEL_PARTS, forHandle=handle), run_id, priority
        )

    def channel_by_username(
        self, username: str, *, run_id: str | None = None, priority: str = "interactive"
    ) -> ChannelRecord | None:
        """The channel with this legacy ``/user/NAME`` username, metadata included."""
        username = _single(username, "username")
        return self._one_channel(
            lambda svc: svc.channels().list(part=CHANNEL_PARTS, forUsername=username), run_id, priority
        )

    def video_channels(
        self, video_ids: Sequence[str], *, run_id: str | None = None, priority: str = "interactive"
    ) -> dict[str, str]:
        """Video id → owning channel id for up to 50 videos; unknown videos are absent."""
        unique = _batch(video_ids)
        if not unique:
            return {}
        joined = ",".join(unique)
        owners: dict[str, str] = {}
        for page in self._id_pages(
            "videos.list",
            lambda svc, token: svc.videos().list(part="snippet", id=joined, **_page(token)),
            run_id=run_id,
            priority=priority,
        ):
            owners.update(parsers.owners_by_id(page))
        return owners

    def playlist_channels(
        self, playlist_ids: Sequence[str], *, run_id: str | None = None, priority: str = "interactive"
    ) -> dict[str, str]:
        """Playlist id → owning channel id for up to 50 playlists; unknown playlists are absent."""
        unique = _batch(playlist_ids)
        if not unique:
            return {}
        joined = ",".join(unique)
        owners: dict[str, str] = {}
        for page in self._id_pages(
            "playlists.list",
            lambda svc, token: svc.playlists().list(part="snippet", id=joined, **_page(token)),
            run_id=run_id,
            priority=priority,
        ):
            owners.update(parsers.owners_by_id(page))
        return owners

    def uploads(
        self,
        playlist_id: str,
        *,
        max_results: int = 50,
        run_id: str | None = None,
        priority: str = "interactive",
    ) -> list[str]:
        """The newest video ids of an uploads playlist (1 unit per 50); ``[]`` when it has none.

        The API answers 404 ``playlistNotFound`` for the uploads playlist of a channel without
        public videos, so that answer is an empty list here, not an error.
        """
        playlist_id = _single(playlist_id, "playlist_id")
        if max_results < 0:
            raise ValueError("max_results must not be negative")
        video_ids: list[str] = []
        token: str | None = None
        while len(video_ids) < max_results:
            size = min(MAX_IDS, max_results - len(video_ids))

            def request(svc: Any, size: int = size, token: str | None = token) -> Any:
                return svc.playlistItems().list(
                    part="contentDetails", playlistId=playlist_id, maxResults=size, **_page(token)
                )

            page = self._execute(
                "playlistItems.list",
                request,
                run_id=run_id,
                priority=priority,
                not_found_is_empty=True,
            )
            if page is None:
                break
            for item in parsers.response_items(page):
                video_id = parsers.playlist_item_video_id(item)
                if video_id and len(video_ids) < max_results:
                    video_ids.append(video_id)
            token = page.get("nextPageToken") if isinstance(page, dict) else None
            if not token:
                break
        return video_ids

    def uploads_page(
        self,
        playlist_id: str,
        *,
        max_results: int = 50,
        run_id: str | None = None,
        priority: str = "interactive",
    ) -> list[UploadItem] | None:
        """The newest page of an uploads playlist (1 unit), upload order; None for ``playlistNotFound``.

        ``part=contentDetails`` is enough: it holds the video id and its publish time. A channel with
        no public videos answers 404 ``playlistNotFound``: None here, "no videos", not an error.
        """
        playlist_id = _single(playlist_id, "playlist_id")
        if not 1 <= max_results <= MAX_IDS:
            raise ValueError(f"max_results must be between 1 and {MAX_IDS}")
        page = self._execute(
            "playlistItems.list",
            lambda svc: svc.playlistItems().list(
                part="contentDetails", playlistId=playlist_id, maxResults=max_results
            ),
            run_id=run_id,
            priority=priority,
            not_found_is_empty=True,
        )
        if page is None:
            return None
        items = (parsers.upload_item(item) for item in parsers.response_items(page))
        return [item for item in items if item is not None]

    def videos_by_ids(
        self,
        ids: Sequence[str],
        *,
        parts: str = VIDEO_PARTS,
        run_id: str | None = None,
        priority: str = "interactive",
    ) -> dict[str, VideoRecord]:
        """Up to 50 videos by id (``videos.list``, 1 unit); removed, private or unknown ids are absent."""
        unique = _batch(ids)
        if not unique:
            return {}
        joined = ",".join(unique)
        found: dict[str, VideoRecord] = {}
        for page in self._id_pages(
            "videos.list",
            lambda svc, token: svc.videos().list(part=parts, id=joined, **_page(token)),
            run_id=run_id,
            priority=priority,
        ):
            found.update(parsers.videos_by_id(page))
        return found

    def video_stats(
        self, ids: Sequence[str], *, run_id: str | None = None, priority: str = "interactive"
    ) -> dict[str, VideoRecord]:
        """Statistics, publish time and duration of up to 50 videos (``videos:batchGetStats``, 1 unit in
        its own bucket); removed or unknown ids are absent.

        Raises :class:`MethodUnavailable` (with the key's fingerprint) when the key's project may not
        call the method (403 without a quota or key reason, or 404): the caller falls back to
        ``videos.list`` and remembers the key for the day.
        """
        unique = _batch(ids)
        if not unique:
            return {}
        joined = ",".join(unique)
        leased: list[str] = []
        try:
            page = self._execute(
                "videos.batchGetStats",
                lambda svc: svc.videos().batchGetStats(part=STATS_PARTS, id=joined),
                run_id=run_id,
                priority=priority,
                not_found_is_empty=True,
                leased=leased,
            )
        except PermanentYouTubeError as exc:
            if exc.status != 403:
                raise
            unavailable = MethodUnavailable(
                str(exc),
                reason=exc.reason,
                key_fingerprint=leased[-1] if leased else None,
                status=exc.status,
                endpoint=exc.endpoint,
            )
        else:
            if page is not None:
                return parsers.videos_by_id(page)
            unavailable = MethodUnavailable(
                "videos.batchGetStats: not found (HTTP 404) for this key",
                reason="notFound",
                key_fingerprint=leased[-1] if leased else None,
                status=404,
                endpoint="videos.batchGetStats",
            )
        raise unavailable

    def search_channels(
        self,
        query: str,
        *,
        max_results: int = 5,
        run_id: str | None = None,
        priority: str = "interactive",
    ) -> list[SearchHit]:
        """Channels matching a free-text query: 1 call of the search bucket's 100 a day, fuzzy, a last resort."""
        query = _single(query, "query")
        if not 1 <= max_results <= MAX_IDS:
            raise ValueError(f"max_results must be between 1 and {MAX_IDS}")
        page = self._execute(
            "search.list",
            lambda svc: svc.search().list(part="snippet", q=query, type="channel", maxResults=max_results),
            run_id=run_id,
            priority=priority,
        )
        hits = (parsers.search_hit(item) for item in parsers.response_items(page))
        return [hit for hit in hits if hit is not None]

    def search(
        self,
        query: str,
        *,
        types: Sequence[str] = ("video",),
        max_results: int = MAX_IDS,
        published_after: datetime | None = None,
        region_code: str | None = None,
        relevance_language: str | None = None,
        run_id: str | None = None,
        priority: str = "interactive",
        max_attempts: int | None = None,
    ) -> list[SearchResult]:
        """One page of keyword search results (videos, channels or playlists, in one call), each with
        the channel behind it. ``max_attempts=1`` sends exactly one request: a caller that counts its
        searches against a budget retries (and counts) them itself."""
        query = _single(query, "query")
        if not 1 <= max_results <= MAX_IDS:
            raise ValueError(f"max_results must be between 1 and {MAX_IDS}")
        wanted = [t for t in types if t in ("video", "channel", "playlist")]
        if not wanted or len(wanted) != len(types):
            raise ValueError("types must be some of video, channel and playlist")
        params: dict[str, Any] = {
            "part": "snippet",
            "q": query,
            "type": ",".join(wanted),
            "maxResults": max_results,
        }
        if published_after is not None:
            params["publishedAfter"] = published_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if region_code:
            params["regionCode"] = region_code
        if relevance_language:
            params["relevanceLanguage"] = relevance_language
        page = self._execute(
            "search.list",
            lambda svc: svc.search().list(**params),
            run_id=run_id,
            priority=priority,
            max_attempts=max_attempts,
        )
        results = (parsers.search_result(item) for item in parsers.response_items(page))
        return [result for result in results if result is not None]

    # --- plumbing --------------------------------------------------------------------------------

    def _one_channel(
        self, factory: RequestFactory, run_id: str | None, priority: str
    ) -> ChannelRecord | None:
        page = self._execute("channels.list", factory, run_id=run_id, priority=priority)
        found = parsers.channels_by_id(page)
        return next(iter(found.values()), None)

    def _id_pages(
        self,
        endpoint: str,
        factory: Callable[[Any, str | None], Any],
        *,
        run_id: str | None,
        priority: str,
    ) -> Iterator[dict[str, Any]]:
        """Yield each page of an id-batch answer (one page unless the API paginates)."""
        token: str | None = None
        for _ in range(_MAX_ID_PAGES):

            def request(svc: Any, token: str | None = token) -> Any:
                return factory(svc, token)

            page = self._execute(endpoint, request, run_id=run_id, priority=priority) or {}
            yield page
            token = page.get("nextPageToken")
            if not token:
                return

    def _service(self, lease: Lease) -> Any:
        service = self._services.get(lease.fingerprint)
        if service is not None:
            return service
        with self._services_lock:
            service = self._services.get(lease.fingerprint)
            if service is None:
                service = build(
                    "youtube",
                    "v3",
                    developerKey=lease.key,
                    static_discovery=True,
                    cache_discovery=False,
                    client_options={"api_endpoint": self.base_url},
                    # Never used for requests (each brings its own); given so build() makes none.
                    http=_fresh_http(self.timeout),
                )
                service = _Collections(service)
                self._services[lease.fingerprint] = service
            return service

    def _forget_service(self, fingerprint: str) -> None:
        with self._services_lock:
            self._services.pop(fingerprint, None)

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(n-1))], at least a bounded Retry-After."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))
        delay = self._rand() * ceiling
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        return delay

    def _execute(
        self,
        endpoint: str,
        factory: RequestFactory,
        *,
        run_id: str | None,
        priority: str,
        not_found_is_empty: bool = False,
        leased: list[str] | None = None,
        max_attempts: int | None = None,
    ) -> dict[str, Any] | None:
        """Send one request until it succeeds, fails for good, or runs out of attempts or keys.

        Returns the decoded answer, or None for a 404 when ``not_found_is_empty``. Each attempt
        reserves its units first, so every request sent is paid for in the ledger.
        """
        bucket, units = cost_of(endpoint)
        attempts = max_attempts or self.max_attempts
        transient_failures = 0
        # Key switches are bounded by the pool (each one spends or disables a key); this is a
        # backstop against a pool that keeps being re-enabled under our feet.
        max_tries = attempts + 2 * max(1, len(self.ledger.fingerprints)) + 2
        last: ApiFailure | None = None
        for attempt in range(1, max_tries + 1):
            at = self._clock()
            try:
                lease = self.ledger.reserve(units, bucket=bucket, priority=priority)
            except (QuotaExhausted, NoApiKeys) as exc:
                self._report(endpoint, None, 0, exc.reason, None, 0.0, at, run_id, attempt, {})
                exc.endpoint = endpoint
                raise
            if leased is not None:
                leased.append(lease.fingerprint)
            response, failure, latency_ms = self._send(lease, factory)

            if failure is None:
                items = len(parsers.response_items(response))
                outcome = "ok" if items else "not_found"
                self._report(
                    endpoint,
                    lease,
                    units,
                    outcome,
                    200,
                    latency_ms,
                    at,
                    run_id,
                    attempt,
                    {"items": str(items)},
                )
                return response if isinstance(response, dict) else {}

            last = failure
            not_found = failure.kind == "not_found" and not_found_is_empty
            # The API bills neither a request it refused for quota nor one that never reached it.
            billed = failure.kind not in ("quota", "not_sent")
            if not billed:
                self.ledger.release(lease)
            self._report(
                endpoint,
                lease,
                units if billed else 0,
                "not_found" if not_found else failure.reason,
                failure.status,
                latency_ms,
                at,
                run_id,
                attempt,
                {"kind": failure.kind, "reason": failure.reason},
            )
            if not_found:
                return None
            if failure.kind == "quota":
                self.ledger.mark_spent(lease.fingerprint, bucket=lease.bucket, day=lease.day)
                continue  # another key may still have room in the bucket: no reason to wait
            if failure.kind == "bad_key":
                self.ledger.disable(lease.fingerprint, failure.reason)
                self._forget_service(lease.fingerprint)
                continue
            if failure.kind in ("permanent", "not_found"):
                raise PermanentYouTubeError(
                    _message(endpoint, failure),
                    reason=failure.reason,
                    status=failure.status,
                    endpoint=endpoint,
                )
            transient_failures += 1
            if transient_failures >= attempts:
                break
            delay = self._backoff(transient_failures, failure.retry_after)
            log.info(
                "%s: %s (HTTP %s), retry %d of %d in %.2fs",
                endpoint,
                failure.reason,
                failure.status,
                transient_failures,
                attempts - 1,
                delay,
            )
            self._sleep(delay)
        assert last is not None
        raise TransientYouTubeError(
            f"{_message(endpoint, last)}; gave up after {attempt} attempt(s)",
            reason=last.reason,
            status=last.status,
            endpoint=endpoint,
        )

    def _send(self, lease: Lease, factory: RequestFactory) -> tuple[Any, ApiFailure | None, float]:
        """One HTTP exchange; vendor exceptions become an :class:`ApiFailure` and go no further."""
        conn = self._http_factory(self.timeout)
        started = time.perf_counter()
        response: Any = None
        failure: ApiFailure | None = None
        try:
            response = factory(self._service(lease)).execute(http=conn)
        except HttpError as exc:
            failure = parsers.classify_error(exc.resp.status, exc.content, exc.resp)
        except _NEVER_SENT as exc:
            failure = ApiFailure("not_sent", "connectionRefused", None, type(exc).__name__)
        except TimeoutError:  # socket.timeout is an alias of TimeoutError
            failure = ApiFailure("transient", "timeout", None, f"no answer within {self.timeout}s")
        except (OSError, http.client.HTTPException, httplib2.HttpLib2Error) as exc:
            # Connection refused or reset, dropped mid-answer, malformed status line, ...
            failure = ApiFailure("transient", "connectionError", None, type(exc).__name__)
        except ValueError:  # a 2xx whose body is not JSON (a proxy's page, a truncated answer)
            failure = ApiFailure("transient", "invalidResponse", 200, "the answer was not JSON")
        except Exception as exc:
            failure = ApiFailure(
                "permanent", "clientError", None, redact(f"{type(exc).__name__}: {exc}")[:300]
            )
        finally:
            conn.close()
        return response, failure, (time.perf_counter() - started) * 1000.0

    def _report(
        self,
        endpoint: str,
        lease: Lease | None,
        units: int,
        outcome: str,
        status: int | None,
        latency_ms: float,
        at: datetime,
        run_id: str | None,
        attempt: int,
        detail: dict[str, str],
    ) -> None:
        if self.sink is None:
            return
        record = ApiCallRecord(
            endpoint=endpoint,
            key_fingerprint=lease.fingerprint if lease else None,
            units=units,
            outcome=outcome,
            http_status=status,
            latency_ms=round(latency_ms, 3),
            at=at,
            run_id=run_id,
            attempt=attempt,
            detail=detail,
        )
        try:
            self.sink(record)
        except Exception:
            log.exception("API call sink failed for %s (%s)", endpoint, outcome)


class _Collections:
    """A built service whose collections (``channels()``, ``videos()``…) are made once and shared.

    googleapiclient rebuilds a collection's methods from the discovery document on every
    ``service.channels()`` (about a millisecond); the collection holds no per-request state (each
    ``list()`` makes a new request object, executed on the caller's own Http), so sharing is safe.
    """

    def __init__(self, service: Any) -> None:
        self._service = service
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[[], Any]:
        def collection() -> Any:
            made = self._made.get(name)
            if made is None:
                with self._lock:
                    made = self._made.get(name)
                    if made is None:
                        made = self._made[name] = getattr(self._service, name)()
            return made

        return collection


def _no_resend(connection_class: type) -> type:
    """A connection class that reports a dropped answer instead of letting httplib2 resend it.

    httplib2 silently sends a request again when the server closes the connection before
    answering (it takes that for a stale keep-alive socket). Our connections are never reused, so
    that resend is a second, unreserved, billable request the ledger and the sink would never see;
    turned into a plain ConnectionResetError it comes back to our own retry loop instead.
    """

    # A class built on a runtime base: mypy cannot check such a subclass (hence the one ignore).
    class NoResend(connection_class):  # type: ignore[misc, valid-type]
        def getresponse(self) -> Any:
            try:
                return super().getresponse()
            except http.client.RemoteDisconnected as exc:
                raise ConnectionResetError(str(exc)) from None

    NoResend.__name__ = NoResend.__qualname__ = f"NoResend{connection_class.__name__}"
    return NoResend


class _Http(httplib2.Http):
    """httplib2.Http with a timeout, no proxy and no silent resend of a dropped request."""

    _CONNECTIONS: ClassVar[dict[str, Any]] = {
        "http": _no_resend(httplib2.HTTPConnectionWithTimeout),
        "https": _no_resend(httplib2.HTTPSConnectionWithTimeout),
    }

    def __init__(self, timeout: float) -> None:
        # proxy_info=None: httplib2 otherwise reads http_proxy/https_proxy, and the emulator on
        # loopback must never go through a proxy.
        super().__init__(timeout=timeout, proxy_info=None)

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        redirections: int = httplib2.DEFAULT_MAX_REDIRECTS,
        connection_type: Any = None,
    ) -> Any:
        if connection_type is None:
            connection_type = self._CONNECTIONS.get(uri.split(":", 1)[0].lower())
        return super().request(
            uri,
            method,
            body=body,
            headers=headers,
            redirections=redirections,
            connection_type=connection_type,
        )


def _fresh_http(timeout: float) -> httplib2.Http:
    return _Http(timeout)


def _batch(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        raise TypeError("pass a sequence of ids, not one string")
    unique = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if len(unique) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} ids per call, got {len(unique)}")
    return unique


def _single(value: str, name: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _page(token: str | None) -> dict[str, str]:
    return {"pageToken": token} if token else {}


def _message(endpoint: str, failure: ApiFailure) -> str:
    status = f"HTTP {failure.status}" if failure.status is not None else "no HTTP answer"
    text = f"{endpoint}: {failure.reason} ({status})"
    return f"{text}: {failure.message}" if failure.message else text
