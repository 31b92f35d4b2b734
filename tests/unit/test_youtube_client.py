"""The client's decisions (key switches, retries, translation, redaction) on scripted HTTP answers, in process.

The HTTP layer is a scripted stand-in and the ledger runs on fakeredis, so these stay pure and fast;
the same paths are exercised over real HTTP against the emulator in tests/integration.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import fakeredis
import httplib2
import pytest

from pipeline.youtube.client import YouTubeClient
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted, TransientYouTubeError
from pipeline.youtube.quota import QuotaLedger, key_fingerprint
from tests.unit.test_youtube_errors import (
    BACKEND_ERROR,
    KEY_INVALID,
    PLAYLIST_NOT_FOUND,
    QUOTA_EXCEEDED,
    RATE_LIMIT_429,
    UNKNOWN_PART,
)

KEYS = ["AIzaFakeKey-DISTINCTIVE-0001", "AIzaFakeKey-DISTINCTIVE-0002"]
FP = [key_fingerprint(k) for k in KEYS]
NOW = datetime(2026, 3, 8, 20, 0, tzinfo=UTC)
CHANNEL = {
    "id": "UCaaaaaaaaaaaaaaaaaaaaaA",
    "snippet": {"title": "A", "customUrl": "@a"},
    "statistics": {
        "viewCount": "5000000000",
        "subscriberCount": "100",
        "videoCount": "3",
        "hiddenSubscriberCount": False,
    },
    "contentDetails": {"relatedPlaylists": {"uploads": "UUaaaaaaaaaaaaaaaaaaaaaA"}},
}
EMPTY_CHANNELS = {
    "kind": "youtube#channelListResponse",
    "etag": "e",
    "pageInfo": {"totalResults": 0, "resultsPerPage": 5},
}


class ScriptedHttp:
    """Stands in for httplib2.Http: answers from a shared script and records what was sent."""

    def __init__(self, script: list, sent: list) -> None:
        self.script, self.sent = script, sent

    def request(self, uri, method="GET", body=None, headers=None, **_):
        self.sent.append((method, uri, body))
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        status, content = step
        if not isinstance(content, str):
            content = json.dumps(content)
        return httplib2.Response({"status": str(status)}), content.encode()

    def close(self) -> None:
        pass


@pytest.fixture
def env():
    """A client on fakeredis with two distinctive keys, a scripted HTTP layer, a record sink and a fake sleep."""

    class Env:
        pass

    e = Env()
    e.script, e.sent, e.records, e.sleeps = [], [], [], []
    e.redis = fakeredis.FakeRedis(decode_responses=True)
    e.ledger = QuotaLedger(
        e.redis, KEYS, daily_units_per_key=100, interactive_reserve=10, clock=lambda: NOW, namespace="unit"
    )
    e.client = YouTubeClient(
        base_url="http://127.0.0.1:9/",
        ledger=e.ledger,
        sink=e.records.append,
        sleep=e.sleeps.append,
        max_attempts=4,
        backoff_base=0.25,
        backoff_max=1.0,
        clock=lambda: NOW,
        rand=lambda: 1.0,
        http_factory=lambda timeout: ScriptedHttp(e.script, e.sent),
    )
    return e


def _query(uri: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(uri).query)


def _no_key_in_exception(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            texts += [str(linked), repr(linked)]
    texts.append(repr(vars(exc)))
    for text in texts:
        for key in KEYS:
            assert key not in text


def _no_key_in_records(records) -> None:
    for record in records:
        for key in KEYS:
            assert key not in repr(record)


def test_channels_by_ids_sends_one_batched_request(env):
    """Given 3 ids of which one is unknown, when fetched, then one channels.list with all parts and a comma list is sent and found ids are keyed by id."""
    env.script.append((200, {"items": [CHANNEL]}))
    found = env.client.channels_by_ids(
        ["UCaaaaaaaaaaaaaaaaaaaaaA", "UCbbbbbbbbbbbbbbbbbbbbbQ", "UCaaaaaaaaaaaaaaaaaaaaaA"], run_id="r1"
    )
    assert list(found) == ["UCaaaaaaaaaaaaaaaaaaaaaA"]
    assert found["UCaaaaaaaaaaaaaaaaaaaaaA"].view_count == 5_000_000_000
    method, uri, _ = env.sent[0]
    q = _query(uri)
    assert (method, urlsplit(uri).path) == ("GET", "/youtube/v3/channels")
    assert q["part"] == ["snippet,statistics,contentDetails"]
    assert q["id"] == ["UCaaaaaaaaaaaaaaaaaaaaaA,UCbbbbbbbbbbbbbbbbbbbbbQ"]
    [record] = env.records
    assert (
        record.endpoint,
        record.units,
        record.outcome,
        record.http_status,
        record.run_id,
        record.attempt,
    ) == ("channels.list", 1, "ok", 200, "r1", 1)
    assert record.key_fingerprint in FP


def test_limits_are_checked_before_any_request(env):
    """Given more than 50 ids, an empty list or an empty handle, when called, then ValueError or {} comes back and nothing is sent."""
    with pytest.raises(ValueError, match="at most 50 ids per call"):
        env.client.channels_by_ids([f"UC{i:022d}" for i in range(51)])
    with pytest.raises(ValueError, match="must not be empty"):
        env.client.channel_by_handle("  ")
    assert env.client.video_channels([]) == {}
    assert env.sent == []


def test_handle_lookup_sends_unicode_and_returns_none_on_no_items(env):
    """Given a unicode handle the API does not know, when looked up, then forHandle carries it decoded and None comes back."""
    env.script.append((200, EMPTY_CHANNELS))
    assert env.client.channel_by_handle("@Ünï") is None
    assert _query(env.sent[0][1])["forHandle"] == ["@Ünï"]
    assert env.records[0].outcome == "not_found"


def test_quota_exceeded_switches_key_without_sleeping(env):
    """Given the first key answers quotaExceeded, when called, then that key is marked spent and the call succeeds on the other at once."""
    env.script += [(403, QUOTA_EXCEEDED), (200, {"items": [CHANNEL]})]
    assert env.client.channel_by_handle("@a").channel_id == CHANNEL["id"]
    assert env.sleeps == []
    used = [_query(uri)["key"][0] for _, uri, _ in env.sent]
    assert used[0] != used[1]
    states = {s.fingerprint: s.state for s in env.ledger.status()}
    assert states[key_fingerprint(used[0])] == "spent"
    assert [r.outcome for r in env.records] == ["quotaExceeded", "ok"]
    assert [r.attempt for r in env.records] == [1, 2]


def test_all_keys_spent_raises_quota_exhausted_with_reset(env):
    """Given every key answers quotaExceeded, when called, then QuotaExhausted carries the next Pacific midnight and no key."""
    env.script += [(403, QUOTA_EXCEEDED), (403, QUOTA_EXCEEDED)]
    with pytest.raises(QuotaExhausted) as caught:
        env.client.channels_by_ids(["UCaaaaaaaaaaaaaaaaaaaaaA"])
    assert caught.value.resets_at == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    assert caught.value.endpoint == "channels.list"
    assert env.records[-1].key_fingerprint is None and env.records[-1].outcome == "quotaExhausted"
    _no_key_in_exception(caught.value)
    _no_key_in_records(env.records)


def test_bad_key_is_disabled_and_the_other_carries_on(env):
    """Given one key answers API_KEY_INVALID, when called twice, then it is disabled with its reason and only the other key is used after."""
    env.script += [(400, KEY_INVALID), (200, {"items": [CHANNEL]}), (200, {"items": [CHANNEL]})]
    env.client.channel_by_username("a")
    env.client.channel_by_username("a")
    bad = key_fingerprint(_query(env.sent[0][1])["key"][0])
    status = {s.fingerprint: s for s in env.ledger.status()}
    assert (status[bad].state, status[bad].reason) == ("disabled", "API_KEY_INVALID")
    assert {key_fingerprint(_query(u)["key"][0]) for _, u, _ in env.sent[1:]} == set(FP) - {bad}
    assert env.sleeps == []


def test_every_key_bad_raises_no_api_keys(env):
    """Given both keys are invalid, when called, then NoApiKeys is raised and it names no key."""
    env.script += [(400, KEY_INVALID), (400, KEY_INVALID)]
    with pytest.raises(NoApiKeys) as caught:
        env.client.video_channels(["dQw4w9WgXcQ"])
    _no_key_in_exception(caught.value)


def test_transient_answers_are_retried_with_bounded_jitter(env):
    """Given a 503, a 429 and a timeout before a 200, when called, then it succeeds after three capped backoff sleeps."""
    env.script += [
        (503, BACKEND_ERROR),
        (429, RATE_LIMIT_429),
        TimeoutError("timed out"),
        (200, {"items": []}),
    ]
    assert env.client.video_channels(["dQw4w9WgXcQ"]) == {}
    assert env.sleeps == [0.25, 0.5, 1.0]  # rand() = 1.0: the full ceiling, base * 2**(n-1) capped at 1.0
    assert [r.outcome for r in env.records] == ["backendError", "rateLimitExceeded", "timeout", "not_found"]
    assert sum(r.units for r in env.records) == 4  # every attempt reserved its unit


def test_transient_failures_run_out(env):
    """Given only 503s and dropped connections, when called, then TransientYouTubeError comes after max_attempts with no key in it."""
    env.script += [
        (503, BACKEND_ERROR),
        ConnectionResetError("reset"),
        TimeoutError("t"),
        (503, BACKEND_ERROR),
    ]
    with pytest.raises(TransientYouTubeError) as caught:
        env.client.playlist_channels(["PLxyz"])
    assert caught.value.reason == "backendError" and caught.value.status == 503
    assert len(env.sent) == 4 and len(env.sleeps) == 3
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    _no_key_in_exception(caught.value)


def test_bad_request_fails_at_once_and_leaves_keys_alone(env):
    """Given a 400 unknownPart, when called, then PermanentYouTubeError is raised after one request and every key is still ok."""
    env.script.append((400, UNKNOWN_PART))
    with pytest.raises(PermanentYouTubeError) as caught:
        env.client.channels_by_ids(["UCaaaaaaaaaaaaaaaaaaaaaA"])
    assert caught.value.reason == "unknownPart" and caught.value.error_code == "unknownPart"
    assert len(env.sent) == 1
    assert {s.state for s in env.ledger.status()} == {"ok"}
    assert caught.value.__context__ is None
    _no_key_in_exception(caught.value)


def test_uploads_404_is_an_empty_list_and_pages_are_followed(env):
    """Given a playlist of 60 videos over two pages and a missing one, when uploads are listed, then 60 ids then [] come back."""
    page1 = {
        "items": [{"contentDetails": {"videoId": f"v{i:010d}"}} for i in range(50)],
        "nextPageToken": "T2",
    }
    page2 = {"items": [{"contentDetails": {"videoId": f"w{i:010d}"}} for i in range(10)]}
    env.script += [(200, page1), (200, page2), (404, PLAYLIST_NOT_FOUND)]
    assert len(env.client.uploads("UUaaaaaaaaaaaaaaaaaaaaaA", max_results=100)) == 60
    assert _query(env.sent[1][1])["pageToken"] == ["T2"]
    assert env.client.uploads("UUnovideosaaaaaaaaaaaaA") == []
    assert env.records[-1].outcome == "not_found" and env.records[-1].http_status == 404


def test_search_costs_one_call_of_its_own_bucket(env):
    """Given a search bucket of 2 calls with 1 kept for interactive work, when searches run, then each
    costs 1 call of the search bucket, system work stops short of the reserve, and default units are untouched."""
    ledger = QuotaLedger(
        env.redis,
        KEYS[:1],
        search_calls_per_key=2,
        search_interactive_reserve=1,
        clock=lambda: NOW,
        namespace="unit-search",
    )
    client = YouTubeClient(
        base_url="http://127.0.0.1:9/",
        ledger=ledger,
        sink=env.records.append,
        clock=lambda: NOW,
        http_factory=lambda timeout: ScriptedHttp(env.script, env.sent),
    )
    hit = {"id": {"kind": "youtube#channel", "channelId": CHANNEL["id"]}, "snippet": {"title": "A"}}
    env.script += [(200, {"items": [hit]})] * 2
    assert [h.channel_id for h in client.search_channels("a", priority="system")] == [CHANNEL["id"]]
    with pytest.raises(QuotaExhausted) as caught:
        client.search_channels("a", priority="system")
    assert caught.value.bucket == "search" and "search bucket" in str(caught.value)
    assert "1 call left" in str(caught.value)
    client.search_channels("a")  # the interactive share
    status = ledger.status()[0]
    assert status.buckets["search"].used == 2 and status.buckets["search"].state == "spent"
    assert status.used == 0 and status.left == 10_000
    assert [(r.endpoint, r.units) for r in env.records if r.key_fingerprint] == [("search.list", 1)] * 2


def test_quota_exceeded_on_search_spends_only_the_search_bucket(env):
    """Given the API answers quotaExceeded to a search, when channels.list follows on the same key, then it
    is sent on that key, only the search bucket is spent, and the refused search is given back and recorded at 0."""
    env.script += [(403, QUOTA_EXCEEDED), (403, QUOTA_EXCEEDED), (200, {"items": [CHANNEL]})]
    with pytest.raises(QuotaExhausted) as caught:
        env.client.search_channels("a")
    assert caught.value.bucket == "search" and caught.value.endpoint == "search.list"
    assert env.client.channel_by_handle("@a").channel_id == CHANNEL["id"]
    status = {s.fingerprint: s for s in env.ledger.status()}
    for fp in FP:
        assert status[fp].buckets["search"].state == "spent"
        assert status[fp].buckets["search"].reason == "quotaExceeded"
        assert status[fp].buckets["search"].used == 0  # not billed: given back
        assert status[fp].state == "ok" and status[fp].buckets["video_stats"].state == "ok"
    assert sum(s.used for s in status.values()) == 1
    assert [(r.outcome, r.units) for r in env.records] == [
        ("quotaExceeded", 0),
        ("quotaExceeded", 0),
        ("quotaExhausted", 0),
        ("ok", 1),
    ]


def test_request_that_never_left_is_given_back_and_retried(env):
    """Given the first attempt meets a refused connection, when called, then its reservation is given back,
    it is recorded at 0 units, and the retry is paid once."""
    env.script += [ConnectionRefusedError(111, "Connection refused"), (200, {"items": [CHANNEL]})]
    assert env.client.channel_by_handle("@a").channel_id == CHANNEL["id"]
    assert [(r.outcome, r.units) for r in env.records] == [("connectionRefused", 0), ("ok", 1)]
    assert sum(s.used for s in env.ledger.status()) == 1
    assert len(env.sleeps) == 1


def test_no_key_reaches_logs_on_any_path(env, caplog):
    """Given DEBUG logging everywhere, when every error path runs, then no captured log text holds a key."""
    env.script += [
        (403, QUOTA_EXCEEDED),
        (503, BACKEND_ERROR),
        (200, {"items": []}),
        (400, UNKNOWN_PART),
        (400, KEY_INVALID),
    ]
    with caplog.at_level(logging.DEBUG):
        env.client.video_channels(["dQw4w9WgXcQ"])
        with pytest.raises(PermanentYouTubeError):
            env.client.video_channels(["dQw4w9WgXcQ"])
        with pytest.raises(QuotaExhausted):  # one key spent, the other now disabled
            env.client.video_channels(["dQw4w9WgXcQ"])
    assert "URL being requested" in caplog.text  # googleapiclient did log the URL...
    for key in KEYS:  # ...but not the key
        assert key not in caplog.text
        assert all(key not in r.getMessage() for r in caplog.records)
    _no_key_in_records(env.records)


def test_service_objects_are_built_once_per_key(env):
    """Given many calls over two keys, when they run, then one discovery service per key is built and reused."""
    env.script += [(200, {"items": []})] * 6
    for _ in range(6):
        env.client.video_channels(["dQw4w9WgXcQ"])
    assert set(env.client._services) == set(FP)


def test_default_http_has_a_timeout_no_proxy_and_no_silent_resend():
    """Given the client's default Http factory, when an Http is made, then it has the timeout, no proxy, and connection classes that never resend."""
    from pipeline.youtube import client as client_module

    conn = client_module._fresh_http(3.0)
    assert conn.timeout == 3.0 and conn.proxy_info is None
    assert issubclass(conn._CONNECTIONS["http"], httplib2.HTTPConnectionWithTimeout)
    assert issubclass(conn._CONNECTIONS["https"], httplib2.HTTPSConnectionWithTimeout)
