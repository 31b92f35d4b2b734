"""The client over real HTTP against the emulator, with its ledger in the real Redis.

Key rotation, spent and bad keys, retries, concurrency and, under every error path, the absence of
any key string from logs, exceptions, records and Redis.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib

from emulator import EmulatorConfig, EmulatorServer
from pipeline.youtube.client import YouTubeClient
from pipeline.youtube.errors import NoApiKeys, PermanentYouTubeError, QuotaExhausted, TransientYouTubeError
from pipeline.youtube.quota import QuotaLedger, bucket_of, key_fingerprint
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.services

K1 = "AIzaFakeKey-DISTINCTIVE-0001"
K2 = "AIzaFakeKey-DISTINCTIVE-0002"
BAD = "AIzaFakeKey-DISTINCTIVE-BAD-0003"
OFF = "AIzaFakeKey-DISTINCTIVE-OFF-0004"
ALL_KEYS = [K1, K2, BAD, OFF]
FP1, FP2, FP_BAD, FP_OFF = (key_fingerprint(k) for k in ALL_KEYS)
# 23:30 PST on 2026-03-07, half an hour before the quota day turns (and the night DST starts).
START = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)


class Clock:
    """The ledger's injectable clock, moved in step with the emulator's."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Harness:
    """One emulator, one Redis namespace, and clients built on them with a recording sink and sleep."""

    def __init__(self, emu: EmulatorServer, redis: redis_lib.Redis, clock: Clock) -> None:
        self.emu, self.redis, self.clock = emu, redis, clock
        self.namespace = f"test-client-{uuid.uuid4().hex[:10]}"
        self.records: list = []
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def sink(self, record) -> None:
        with self._lock:
            self.records.append(record)

    def client(self, keys, *, units=10_000, reserve=0, **kwargs) -> YouTubeClient:
        ledger = QuotaLedger(
            self.redis,
            keys,
            daily_units_per_key=units,
            interactive_reserve=reserve,
            clock=self.clock,
            namespace=self.namespace,
        )
        kwargs.setdefault("sleep", self.sleeps.append)
        kwargs.setdefault("timeout", 5.0)
        return YouTubeClient(
            base_url=self.emu.base_url, ledger=ledger, sink=self.sink, clock=self.clock, **kwargs
        )

    def advance(self, delta: timedelta) -> None:
        self.emu.advance_clock(delta)
        self.clock.now += delta

    def cleanup(self) -> None:
        for key in self.redis.scan_iter(match=f"{self.namespace}:*", count=500):
            self.redis.delete(key)


@pytest.fixture(scope="module")
def emulator():
    """One emulator for the module (its catalogue takes a moment); tests reset it before use."""
    config = EmulatorConfig(
        seed=7,
        channels=500,
        keys=[K1, K2],
        invalid_keys=[BAD],
        disabled_keys=[OFF],
        quota_per_key=10_000,
        latency_ms=0,
        start_time=START,
    )
    with EmulatorServer(config, host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def h(emulator):
    """A clean emulator (usage, faults, clock at START) and a fresh ledger namespace in the real Redis."""
    emulator.reset()
    emulator.set_faults(faults=[])
    redis = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    harness = Harness(emulator, redis, Clock(emulator.now()))
    yield harness
    harness.cleanup()
    emulator.set_faults(faults=[])
    redis.close()


def _sample(emu, n=400):
    return emu.catalogue.sample(n)


def _pick(entries, **flags):
    """The first catalogue entry whose flags match, e.g. terminated=False, no_videos=True."""
    for entry in entries:
        if all(bool(entry.get(k)) == v for k, v in flags.items()):
            return entry
    pytest.skip(f"no catalogue entry with {flags} in the sample")


def _keys_in(text: str) -> list[str]:
    return [k for k in ALL_KEYS if k in text]


def _exception_texts(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc)), "".join(traceback.format_exception(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            parts += [str(linked), repr(linked)]
    return "\n".join(parts)


# --- the calls ----------------------------------------------------------------------------------------


def test_every_call_against_the_emulator(h):
    """Given the emulator's catalogue, when every client call runs, then channels, owners and uploads come back keyed by id and the ledger's units equal the emulator's bill."""
    client = h.client([K1, K2])
    entries = _sample(h.emu)
    live = [e for e in entries if not e["terminated"]][:45]
    dead = [e for e in entries if e["terminated"]][:5]
    found = client.channels_by_ids([e["id"] for e in live + dead], run_id="run-1")
    assert set(found) == {e["id"] for e in live}
    record = found[live[0]["id"]]
    assert record.uploads_playlist_id and record.view_count is not None

    with_handle = _pick(entries, terminated=False)
    handle = with_handle["handle"]
    by_handle = client.channel_by_handle(handle.lstrip("@").upper())
    assert by_handle is not None and by_handle.channel_id == with_handle["id"]
    assert by_handle.title  # the metadata came in the same unit
    assert client.channel_by_handle("@no-such-handle-ytc-test") is None

    with_user = next((e for e in entries if e.get("username") and not e["terminated"]), None)
    if with_user is not None:
        assert client.channel_by_username(with_user["username"]).channel_id == with_user["id"]

    owner = _pick(entries, terminated=False, no_videos=False)
    videos = owner["video_ids"][:3]
    assert client.video_channels([*videos, "AAAAAAAAAAA"]) == dict.fromkeys(videos, owner["id"])
    if owner["playlist_ids"]:
        assert client.playlist_channels(owner["playlist_ids"][:2]) == dict.fromkeys(
            owner["playlist_ids"][:2], owner["id"]
        )
    uploads = client.uploads(owner["uploads_playlist_id"], max_results=5)
    assert uploads and set(uploads) <= set(owner["video_ids"])

    empty = _pick(entries, terminated=False, no_videos=True)
    assert client.uploads(empty["uploads_playlist_id"]) == []

    hits = client.search_channels(with_handle["custom_name"] or handle)
    assert all(hit.channel_id.startswith("UC") for hit in hits)

    usage = h.emu.usage()
    statuses = client.ledger.status()
    for bucket in ("default", "search", "video_stats"):  # the ledger books what the API bills, per bucket
        booked = sum(s.buckets[bucket].used for s in statuses)
        recorded = sum(r.units for r in h.records if bucket_of(r.endpoint) == bucket)
        assert booked == recorded == usage["buckets"][bucket]["units_total"], bucket
    assert usage["buckets"]["search"]["units_total"] == 1
    assert usage["units_total"] == sum(s.used for s in statuses)
    assert {r.run_id for r in h.records if r.endpoint == "channels.list"} >= {"run-1"}
    assert all(r.key_fingerprint in (FP1, FP2) for r in h.records)


def test_long_query_goes_as_post_override(h):
    """Given a query long enough to push the URI past 2,048 characters, when searched, then the POST-override form works and is billed once."""
    client = h.client([K1])
    client.search_channels("music " * 400)
    assert h.emu.usage()["by_method"]["search.list"] == {"units": 1, "requests": 1}


def test_proxy_settings_do_not_touch_loopback(h, monkeypatch):
    """Given http_proxy and https_proxy pointing at a dead port, when the emulator is called, then the call goes straight to it."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    client = h.client([K1], max_attempts=1)
    assert client.video_channels(["AAAAAAAAAAA"]) == {}


# --- keys and quota -----------------------------------------------------------------------------------


def test_quota_exceeded_rotates_to_the_other_key(h):
    """Given the emulator answers quotaExceeded for the first key, when calls run, then that key is spent and the other carries every call without sleeping."""
    client = h.client([K1, K2])
    h.emu.set_faults(faults=[{"endpoint": "*", "kind": "quota_exceeded", "count": 1, "key": FP1}])
    ids = [e["id"] for e in _sample(h.emu, 20) if not e["terminated"]]
    for chunk in (ids[:5], ids[5:10], ids[10:15]):
        assert set(client.channels_by_ids(chunk)) == set(chunk)
    assert [r.outcome for r in h.records][:2] == ["quotaExceeded", "ok"]
    assert [r.key_fingerprint for r in h.records] == [FP1, FP2, FP2, FP2]
    assert {s.fingerprint: s.state for s in client.ledger.status()} == {FP1: "spent", FP2: "ok"}
    assert h.sleeps == []


@pytest.fixture
def stingy(h):
    """A second emulator granting only 3 units per key per day, so quotaExceeded comes from the API, not the ledger."""
    config = EmulatorConfig(seed=7, channels=200, keys=[K1, K2], quota_per_key=3, start_time=START)
    with EmulatorServer(config, host="127.0.0.1", port=0) as emu:
        h.emu = emu
        yield h


def test_all_keys_spent_waits_for_the_pacific_day_to_turn(stingy):
    """Given the API grants 3 units per key, when the 7th call comes, then QuotaExhausted names Pacific midnight, and after both clocks turn the call succeeds."""
    h = stingy
    client = h.client([K1, K2])  # the ledger believes in 10,000 units: the API is the one to refuse
    entry = h.emu.catalogue.find(1, terminated=False)[0]
    for _ in range(6):
        assert entry["id"] in client.channels_by_ids([entry["id"]])
    with pytest.raises(QuotaExhausted) as caught:
        client.channels_by_ids([entry["id"]])
    assert caught.value.resets_at == MIDNIGHT
    assert [r.outcome for r in h.records[-3:]] == ["quotaExceeded", "quotaExceeded", "quotaExhausted"]
    assert {s.state for s in client.ledger.status()} == {"spent"}
    sent = h.emu.usage()["requests_total"]
    with pytest.raises(QuotaExhausted):  # and it stays so without sending anything
        client.channels_by_ids([entry["id"]])
    assert h.emu.usage()["requests_total"] == sent

    h.advance(MIDNIGHT - h.clock.now + timedelta(seconds=1))
    assert entry["id"] in client.channels_by_ids([entry["id"]])
    assert h.emu.usage()["requests_total"] == sent + 1
    assert {s.fingerprint: s.state for s in client.ledger.status()} == {FP1: "ok", FP2: "ok"}


def test_bad_keys_are_disabled_and_the_good_one_carries_on(h, caplog):
    """Given an invalid, a disabled and a good key, when calls run, then the bad two are disabled with their reasons (logged by fingerprint) and the good one serves the rest."""
    client = h.client([BAD, OFF, K1])
    ids = [e["id"] for e in _sample(h.emu, 30) if not e["terminated"]][:10]
    with caplog.at_level(logging.INFO):
        for i in ids:
            assert i in client.channels_by_ids([i])
    status = {s.fingerprint: (s.state, s.reason) for s in client.ledger.status()}
    assert status[FP_BAD] == ("disabled", "API_KEY_INVALID")
    assert status[FP_OFF][0] == "disabled" and status[FP_OFF][1] in (
        "SERVICE_DISABLED",
        "accessNotConfigured",
    )
    assert status[FP1][0] == "ok"
    assert [r.key_fingerprint for r in h.records if r.outcome == "ok"] == [FP1] * len(ids)
    assert FP_BAD in caplog.text and "API_KEY_INVALID" in caplog.text
    assert _keys_in(caplog.text) == []


def test_only_bad_keys_raise_no_api_keys(h):
    """Given only an invalid and a disabled key, when a call runs, then both get disabled and NoApiKeys is raised."""
    client = h.client([BAD, OFF])
    with pytest.raises(NoApiKeys) as caught:
        client.video_channels(["AAAAAAAAAAA"])
    assert _keys_in(_exception_texts(caught.value)) == []


# --- transient failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("backend_500", "backendError"),
        ("backend_503", "backendError"),
        ("rate_limit_429", "rateLimitExceeded"),
        ("rate_limit_403", "rateLimitExceeded"),
        ("drop", "connectionError"),
    ],
)
def test_transient_faults_are_retried_and_succeed(h, kind, outcome):
    """Given the next two requests fail transiently, when a call runs, then it succeeds after bounded backoff sleeps and the failures are recorded."""
    client = h.client([K1, K2], max_attempts=4, backoff_base=0.5, backoff_max=2.0)
    h.emu.set_faults(faults=[{"endpoint": "channels.list", "kind": kind, "count": 2}])
    entry = _pick(_sample(h.emu, 20), terminated=False)
    assert entry["id"] in client.channels_by_ids([entry["id"]])
    failures = [r for r in h.records if r.outcome != "ok"]
    assert len(failures) == 2 and {r.outcome for r in failures} == {outcome}
    assert len(h.sleeps) == 2 and all(0 <= s <= 2.0 for s in h.sleeps)
    assert {s.state for s in client.ledger.status()} == {"ok"}  # rate limits never touch the keys
    # Every request sent was reserved first: httplib2 must not resend a dropped one behind our back.
    assert sum(s.used for s in client.ledger.status()) == h.emu.usage()["requests_total"] == 3


def test_persistent_backend_errors_give_up_after_max_attempts(h):
    """Given every request answers 503, when a call runs, then TransientYouTubeError comes after max_attempts with capped full-jitter sleeps."""
    client = h.client([K1], max_attempts=4, backoff_base=0.25, backoff_max=0.5)
    h.emu.set_faults(faults=[{"endpoint": "*", "kind": "backend_503", "rate": 1.0}])
    with pytest.raises(TransientYouTubeError) as caught:
        client.video_channels(["AAAAAAAAAAA"])
    assert (caught.value.reason, caught.value.status) == ("backendError", 503)
    assert len(h.records) == 4 and len(h.sleeps) == 3 and max(h.sleeps) <= 0.5
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_slow_answers_time_out_as_transient(h):
    """Given answers slower than the client's timeout, when a call runs, then it is retried and ends as a transient timeout."""
    client = h.client([K1], max_attempts=2, timeout=0.2)
    h.emu.set_faults(faults=[], latency_ms=600)
    start = time.monotonic()
    with pytest.raises(TransientYouTubeError) as caught:
        client.video_channels(["AAAAAAAAAAA"])
    assert caught.value.reason == "timeout"
    assert time.monotonic() - start < 3


# --- concurrency --------------------------------------------------------------------------------------


def test_sixteen_threads_two_hundred_calls_each(h):
    """Given 16 threads sharing one client, when each makes 200 batched calls with a few injected transient faults, then none fails and the ledger matches the emulator's bill."""
    client = h.client([K1, K2], max_attempts=6, backoff_base=0.001, backoff_max=0.01, sleep=time.sleep)
    h.emu.set_faults(
        faults=[
            {"endpoint": "channels.list", "kind": "backend_503", "rate": 0.02},
            {"endpoint": "channels.list", "kind": "rate_limit_429", "rate": 0.01},
        ]
    )
    ids = [e["id"] for e in _sample(h.emu, 500) if not e["terminated"]]
    errors: list[BaseException] = []
    calls = [0] * 16

    def worker(n: int) -> None:
        for i in range(200):
            start = (n * 200 + i) * 7 % (len(ids) - 50)
            try:
                got = client.channels_by_ids(ids[start : start + 50], run_id=f"t{n}")
                assert len(got) == 50
                calls[n] += 1
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    elapsed = time.perf_counter() - started
    assert errors == []
    assert sum(calls) == 3200
    usage = h.emu.usage()
    ledger_units = sum(s.used for s in client.ledger.status())
    retried = sum(1 for r in h.records if r.outcome != "ok")
    print(
        f"\n16x200 channels.list(50 ids): {elapsed:.2f}s, {3200 / elapsed:.0f} calls/s, "
        f"{retried} transient failures retried, ledger {ledger_units} units, emulator {usage['units_total']}"
    )
    assert ledger_units == len(h.records) == 3200 + retried
    assert usage["units_total"] <= ledger_units  # never spend what the ledger did not reserve


# --- no key anywhere ----------------------------------------------------------------------------------


def test_no_key_string_anywhere_under_every_error_path(h, caplog, capfd):
    """Given DEBUG logging for everything, when every error path runs, then no key appears in logs, output, exceptions, records or Redis."""
    caplog.set_level(logging.DEBUG)
    for name in ("googleapiclient", "googleapiclient.discovery", "googleapiclient.http", "httplib2"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    raised: list[BaseException] = []
    entry = _pick(_sample(h.emu, 20), terminated=False)

    def expect(exc_type, call, **faults) -> None:
        h.emu.set_faults(faults=faults.get("faults", []), latency_ms=faults.get("latency_ms", 0))
        with pytest.raises(exc_type) as caught:
            call()
        raised.append(caught.value)

    good = h.client([K1, K2], max_attempts=2)
    expect(
        TransientYouTubeError,
        lambda: good.channels_by_ids([entry["id"]]),
        faults=[{"endpoint": "*", "kind": "backend_500", "rate": 1.0}],
    )
    expect(
        TransientYouTubeError,
        lambda: good.channels_by_ids([entry["id"]]),
        faults=[{"endpoint": "*", "kind": "drop", "rate": 1.0}],
    )
    expect(
        TransientYouTubeError,
        lambda: good.channels_by_ids([entry["id"]]),
        faults=[{"endpoint": "*", "kind": "rate_limit_403", "rate": 1.0}],
    )
    expect(
        TransientYouTubeError,
        lambda: h.client([K1], max_attempts=1, timeout=0.2).video_channels(["AAAAAAAAAAA"]),
        latency_ms=500,
    )
    expect(
        PermanentYouTubeError,
        lambda: good._execute(
            "channels.list",
            lambda svc: svc.channels().list(part="nope", id=entry["id"]),
            run_id=None,
            priority="interactive",
        ),
    )
    expect(NoApiKeys, lambda: h.client([BAD, OFF]).channels_by_ids([entry["id"]]))
    h.emu.set_faults(faults=[])
    good.search_channels("y " * 1200)  # the POST-override path, key in the form body
    expect(
        QuotaExhausted,
        lambda: good.search_channels("x" * 3000),
        faults=[{"endpoint": "*", "kind": "quota_exceeded", "rate": 1.0}],
    )

    assert len(raised) == 7
    for exc in raised:
        assert _keys_in(_exception_texts(exc)) == [], type(exc).__name__
    assert "URL being requested" in caplog.text  # the library did log URLs at DEBUG...
    log_text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert _keys_in(log_text) == []  # ...with every key redacted
    out, err = capfd.readouterr()
    assert _keys_in(out + err) == []
    assert _keys_in("\n".join(repr(r) for r in h.records)) == []
    redis_dump = "\n".join(
        f"{k} {h.redis.hgetall(k) if h.redis.type(k) == 'hash' else h.redis.get(k)}"
        for k in h.redis.scan_iter(match=f"{h.namespace}:*")
    )
    assert redis_dump and _keys_in(redis_dump) == []


# --- quota buckets ------------------------------------------------------------------------------------


def test_spent_search_bucket_leaves_channels_list_answering_on_the_same_key(h):
    """Given a ledger that believes in 1,000 searches a key while the API grants 100, when 101 searches run on
    one key, then the 101st meets quotaExceeded, only the search bucket is spent (not billed), and channels.list
    on that very key keeps answering."""
    ledger = QuotaLedger(h.redis, [K1], search_calls_per_key=1_000, clock=h.clock, namespace=h.namespace)
    client = YouTubeClient(base_url=h.emu.base_url, ledger=ledger, sink=h.sink, clock=h.clock, timeout=5.0)
    for n in range(100):
        client.search(f"coffee {n}", max_results=1)
    with pytest.raises(QuotaExhausted) as caught:
        client.search("coffee one more", max_results=1)
    assert caught.value.bucket == "search" and caught.value.resets_at == MIDNIGHT
    assert "search bucket" in str(caught.value)
    ids = [e["id"] for e in _sample(h.emu, 20) if not e["terminated"]][:5]
    assert set(client.channels_by_ids(ids)) == set(ids)
    status = ledger.status()[0]
    assert (status.buckets["search"].state, status.buckets["search"].reason) == ("spent", "quotaExceeded")
    assert status.buckets["search"].used == 100  # the refused 101st was given back
    assert (status.state, status.used) == ("ok", 1)
    usage = h.emu.usage()
    assert usage["buckets"]["search"]["units_total"] == 100
    assert usage["buckets"]["search"]["requests_total"] == 101
    assert usage["units_total"] == 1 and usage["by_method"]["channels.list"]["requests"] == 1
    refused = [r for r in h.records if r.outcome == "quotaExceeded"]
    assert [(r.endpoint, r.units, r.key_fingerprint) for r in refused] == [("search.list", 0, FP1)]


def test_ledger_stops_at_the_search_bucket_before_the_api_does(h):
    """Given the default 100 searches a key, when 101 are asked, then the ledger refuses the 101st itself:
    the API sees exactly 100 and never answers quotaExceeded."""
    client = h.client([K1])
    for n in range(100):
        client.search_channels(f"coffee {n}", max_results=1)
    with pytest.raises(QuotaExhausted) as caught:
        client.search_channels("coffee again", max_results=1)
    assert caught.value.bucket == "search"
    assert h.emu.usage()["buckets"]["search"]["requests_total"] == 100
    assert not any(r.outcome == "quotaExceeded" for r in h.records)


def test_ledger_equals_the_emulator_per_bucket_and_per_method(h):
    """Given calls of every method over two keys, when compared, then the ledger's per-bucket counts and the
    records' per-method units equal the emulator's bill, and batchGetStats lands in video_stats."""
    client = h.client([K1, K2])
    entries = [e for e in _sample(h.emu, 200) if not e["terminated"]]
    owner = next(e for e in entries if e["video_ids"] and e["playlist_ids"])
    client.channels_by_ids([e["id"] for e in entries[:30]])
    client.channel_by_handle(owner["handle"])
    client.video_channels(owner["video_ids"][:5])
    client.playlist_channels(owner["playlist_ids"][:1])
    client.uploads_page(owner["uploads_playlist_id"], max_results=10)
    videos = [v for e in entries[:20] for v in e["video_ids"][:3]][:50]
    stats = client.video_stats(videos)
    assert stats and set(stats) <= set(videos)
    client.videos_by_ids(videos[:10])
    client.search("coffee", max_results=5)
    client.search_channels("coffee", max_results=1)

    usage = h.emu.usage()
    per_method: dict[str, int] = {}
    for r in h.records:
        per_method[r.endpoint] = per_method.get(r.endpoint, 0) + r.units
    assert per_method == {m: v["units"] for m, v in usage["by_method"].items()}
    statuses = client.ledger.status()
    for bucket in ("default", "search", "video_stats"):
        assert sum(s.buckets[bucket].used for s in statuses) == usage["buckets"][bucket]["units_total"]
        assert {m for m in per_method if bucket_of(m) == bucket} == set(usage["buckets"][bucket]["by_method"])
    assert usage["buckets"]["video_stats"]["by_method"] == {
        "videos.batchGetStats": {"units": 1, "requests": 1}
    }
    assert usage["buckets"]["search"]["units_total"] == 2
    assert sum(s.used for s in statuses) == usage["units_total"] == 6  # six default-bucket calls


def test_a_closed_port_costs_nothing(h):
    """Given the client pointed at a port nobody listens on, when a call is made, then every attempt is
    refused before sending, given back to the ledger, and recorded at 0 units."""
    import socket

    with socket.socket() as probe:  # a port just closed: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ledger = QuotaLedger(h.redis, [K1], clock=h.clock, namespace=h.namespace)
    client = YouTubeClient(
        base_url=f"http://127.0.0.1:{port}",
        ledger=ledger,
        sink=h.sink,
        clock=h.clock,
        sleep=h.sleeps.append,
        max_attempts=3,
    )
    with pytest.raises(TransientYouTubeError) as caught:
        client.channel_by_handle("@anyone")
    assert caught.value.reason == "connectionRefused"
    assert [(r.outcome, r.units) for r in h.records] == [("connectionRefused", 0)] * 3
    assert ledger.status()[0].used == 0 and len(h.sleeps) == 2


@pytest.fixture(scope="module", params=["omit", "zero"])
def hidden_mode(request):
    """An emulator in each of the two ways the API may show a hidden subscriber count."""
    config = EmulatorConfig(
        seed=11, channels=300, keys=[K1], latency_ms=0, hidden_subscriber_mode=request.param
    )
    with EmulatorServer(config, host="127.0.0.1", port=0) as emu:
        yield emu


def test_hidden_subscriber_counts_parse_alike_in_both_modes(hidden_mode, h):
    """Given hidden counts left out or shown as "0", when channels are fetched, then a hidden channel has no
    subscriber count (not 0) and its flag set, and a visible one keeps its count."""
    redis = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    ledger = QuotaLedger(redis, [K1], clock=Clock(hidden_mode.now()), namespace=h.namespace)
    client = YouTubeClient(base_url=hidden_mode.base_url, ledger=ledger, timeout=5.0)
    entries = [e for e in hidden_mode.catalogue.sample(300) if not e["terminated"]]
    hidden = [e for e in entries if e["hidden"]][:5]
    shown = [e for e in entries if not e["hidden"]][:5]
    assert hidden and shown
    found = client.channels_by_ids([e["id"] for e in hidden + shown])
    for entry in hidden:
        record = found[entry["id"]]
        assert record.hidden_subscriber_count is True and record.subscriber_count is None
    for entry in shown:
        record = found[entry["id"]]
        assert record.hidden_subscriber_count is False and record.subscriber_count is not None
    by_handle = client.channel_by_handle(hidden[0]["handle"])
    assert by_handle is not None and by_handle.subscriber_count is None
    redis.close()
