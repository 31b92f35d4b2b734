"""The quota ledger against the real Redis: atomic reservations, key choice, reserve, spent and disabled keys."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib

from pipeline.youtube.errors import NoApiKeys, QuotaExhausted
from pipeline.youtube.quota import QuotaLedger, key_fingerprint
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.services

KEYS = ["AIzaFakeKey-DISTINCTIVE-0001", "AIzaFakeKey-DISTINCTIVE-0002", "AIzaFakeKey-DISTINCTIVE-0003"]
FP = [key_fingerprint(k) for k in KEYS]
# 23:50 Pacific (PST) on 2026-03-07: ten minutes before the day turns.
LATE = datetime(2026, 3, 8, 7, 50, tzinfo=UTC)


class Clock:
    """An injectable clock tests can move forward."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def redis():
    """A real Redis client; whatever a test writes under its namespaces is deleted after it."""
    client = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    client.namespaces = []  # type: ignore[attr-defined]
    yield client
    for ns in client.namespaces:  # type: ignore[attr-defined]
        for key in client.scan_iter(match=f"{ns}:*", count=500):
            client.delete(key)
    client.close()


@pytest.fixture
def make_ledger(redis):
    """Build ledgers on a unique namespace per test (other engineers' tests share this Redis)."""
    ns = f"test-ledger-{uuid.uuid4().hex[:10]}"
    redis.namespaces.append(ns)

    def make(keys=KEYS, **kwargs) -> QuotaLedger:
        kwargs.setdefault("namespace", ns)
        return QuotaLedger(redis, keys, **kwargs)

    return make


def test_concurrent_reservations_never_overspend(make_ledger):
    """Given 3 keys of 300 units and 16 threads reserving until refused, when they race, then exactly 900 leases are granted and no key passes its cap."""
    ledger = make_ledger(daily_units_per_key=300, interactive_reserve=0)
    granted: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                lease = ledger.reserve(1)
                with lock:
                    granted.append(lease.fingerprint)
        except QuotaExhausted:
            return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(granted) == 900
    assert {fp: granted.count(fp) for fp in FP} == dict.fromkeys(FP, 300)
    assert [s.used for s in ledger.status()] == [300, 300, 300]


def test_key_with_most_units_left_is_chosen(make_ledger):
    """Given keys used 5, 2 and 9 units, when units are reserved, then the least-used key pays until they level."""
    ledger = make_ledger(daily_units_per_key=100)
    for fp_index, used in enumerate([5, 2, 9]):
        for _ in range(used):
            ledger._redis.hincrby(ledger._used_key(ledger.status()[0].day), FP[fp_index], 1)
    assert ledger.reserve(3).fingerprint == FP[1]  # 2 -> 5: now ties with the first key
    assert ledger.reserve(1).fingerprint == FP[0]  # ties go to configuration order
    assert ledger.reserve(1).fingerprint == FP[1]
    assert [s.used for s in ledger.status()] == [6, 6, 9]


def test_system_priority_keeps_the_interactive_reserve(make_ledger):
    """Given a cap of 100 and a reserve of 30 on one key, when system work reserves, then it stops at 70 while interactive work may go on to 100."""
    ledger = make_ledger(keys=KEYS[:1], daily_units_per_key=100, interactive_reserve=30)
    for _ in range(7):
        ledger.reserve(10, priority="system")
    assert ledger.units_left(priority="system") == 0
    assert ledger.units_left() == 30
    with pytest.raises(QuotaExhausted):
        ledger.reserve(1, priority="system")
    ledger.reserve(30, priority="interactive")
    with pytest.raises(QuotaExhausted):
        ledger.reserve(1)
    with pytest.raises(ValueError, match="priority must be one of"):
        ledger.reserve(1, priority="urgent")


def test_daily_budget_caps_each_key(make_ledger):
    """Given a budget of 50 under 10,000 units per key, when reserving, then each key stops at 50 (minus the reserve for system work)."""
    ledger = make_ledger(keys=KEYS[:2], daily_units_per_key=10_000, daily_budget=50, interactive_reserve=20)
    assert ledger.cap == 50
    assert ledger.units_left() == 100
    assert ledger.units_left(priority="system") == 60
    closed = make_ledger(keys=KEYS[:1], daily_budget=0)
    with pytest.raises(QuotaExhausted):
        closed.reserve(1)


def test_spent_key_waits_for_pacific_midnight(make_ledger):
    """Given every key marked spent at 23:50 PT, when reserving, then QuotaExhausted names the midnight, and after it the keys pay again."""
    clock = Clock(LATE)
    ledger = make_ledger(keys=KEYS[:2], clock=clock)
    for fp in FP[:2]:
        ledger.mark_spent(fp)
    assert {s.state for s in ledger.status()} == {"spent"}
    with pytest.raises(QuotaExhausted) as caught:
        ledger.reserve(1)
    assert caught.value.resets_at == datetime(2026, 3, 8, 8, 0, tzinfo=UTC) == ledger.resets_at()
    clock.now = LATE + timedelta(minutes=10)
    assert ledger.reserve(1).day.isoformat() == "2026-03-08"
    assert {s.state for s in ledger.status()} == {"ok"}


def test_spent_answer_after_midnight_spends_the_lease_day_only(make_ledger):
    """Given a lease taken at 23:59 and its quotaExceeded handled after midnight, when marked with the lease's day, then the new day is untouched."""
    clock = Clock(LATE + timedelta(minutes=9))
    ledger = make_ledger(keys=KEYS[:1], clock=clock)
    lease = ledger.reserve(1)
    clock.now = LATE + timedelta(minutes=11)
    ledger.mark_spent(lease.fingerprint, day=lease.day)
    assert ledger.status()[0].state == "ok"


def test_day_keys_expire_after_their_day_and_disabled_persists(make_ledger, redis):
    """Given reservations, a spent and a disabled key, when Redis is inspected, then day keys (the seeded
    marker too) carry a TTL past the day's end and the disabled set and the alive mark none."""
    clock = Clock(LATE)
    ledger = make_ledger(keys=KEYS[:2], clock=clock)
    ledger.reserve(1)
    ledger.mark_spent(FP[0])
    ledger.disable(FP[1], "API_KEY_INVALID")
    ns = ledger._prefix.split(":")[0]
    keys = sorted(redis.scan_iter(match=f"{ns}:*"))
    assert all(k.startswith(f"{ns}:quota:") for k in keys) and len(keys) == 5
    to_midnight = 10 * 60
    for key in keys:
        ttl = redis.ttl(key)
        if key.endswith((":disabled", ":alive")):
            assert ttl == -1
        else:
            assert to_midnight < ttl <= to_midnight + 86_400 + 1
    for key in keys:  # the ledger stores fingerprints, never a key
        dump = str(redis.hgetall(key) if redis.type(key) == "hash" else redis.get(key))
        assert not any(k in dump or k in key for k in KEYS)


def test_disable_and_enable(make_ledger, caplog):
    """Given one key disabled with a reason, when reserving, then the others pay; all disabled gives NoApiKeys; enabling brings it back."""
    ledger = make_ledger(keys=KEYS[:2])
    ledger.disable(FP[0], "API_KEY_INVALID")
    assert "API_KEY_INVALID" in caplog.text and FP[0] in caplog.text
    assert {ledger.reserve(1).fingerprint for _ in range(4)} == {FP[1]}
    # Another worker (a fresh ledger on the same Redis) sees the same state.
    other = make_ledger(keys=KEYS[:2])
    status = {s.fingerprint: s for s in other.status()}
    assert (status[FP[0]].state, status[FP[0]].reason, status[FP[0]].left) == (
        "disabled",
        "API_KEY_INVALID",
        0,
    )
    other.disable(FP[1], "SERVICE_DISABLED")
    with pytest.raises(NoApiKeys):
        ledger.reserve(1)
    ledger.enable(FP[0])
    assert ledger.reserve(1).fingerprint == FP[0]
    assert not any(k in caplog.text for k in KEYS)


def test_no_keys_configured(make_ledger):
    """Given no keys, when reserving, then NoApiKeys is raised and status is empty."""
    ledger = make_ledger(keys=[" ", ""])
    with pytest.raises(NoApiKeys):
        ledger.reserve(1)
    assert ledger.status() == [] and ledger.units_left() == 0


def test_buckets_are_counted_apart_and_spent_apart(make_ledger):
    """Given two keys, when key 1's search bucket is marked spent, then searches go to key 2 only, key 1
    keeps paying default and video_stats units, and each bucket has its own cap and count."""
    ledger = make_ledger(keys=KEYS[:2], search_calls_per_key=3, stats_units_per_key=50)
    ledger.mark_spent(FP[0], bucket="search")
    assert {ledger.reserve(1, bucket="search").fingerprint for _ in range(3)} == {FP[1]}
    with pytest.raises(QuotaExhausted) as caught:
        ledger.reserve(1, bucket="search")
    assert caught.value.bucket == "search"
    assert "search bucket" in str(caught.value) and caught.value.resets_at.isoformat() in str(caught.value)
    assert ledger.reserve(1).fingerprint == FP[0]
    assert ledger.reserve(5, bucket="video_stats").fingerprint == FP[0]
    status = {s.fingerprint: s for s in ledger.status()}
    one, two = status[FP[0]], status[FP[1]]
    assert (one.state, one.used, one.left) == ("ok", 1, 9_999)
    assert (one.buckets["search"].state, one.buckets["search"].reason) == ("spent", "quotaExceeded")
    assert (two.buckets["search"].used, two.buckets["search"].state, two.buckets["search"].reason) == (
        3,
        "spent",
        "budget",
    )
    assert (one.buckets["video_stats"].used, one.buckets["video_stats"].left) == (5, 45)
    assert ledger.units_left(bucket="search") == 0
    assert ledger.units_left(bucket="video_stats") == 95
    with pytest.raises(ValueError, match="bucket must be one of"):
        ledger.reserve(1, bucket="insert")


def test_interactive_reserve_applies_per_bucket(make_ledger):
    """Given 10 searches a key with 4 kept for interactive work, when system work searches, then it stops at
    6 calls while interactive work goes on to 10, and the default bucket's reserve is untouched by it."""
    ledger = make_ledger(keys=KEYS[:1], search_calls_per_key=10, search_interactive_reserve=4)
    for _ in range(6):
        ledger.reserve(1, bucket="search", priority="system")
    with pytest.raises(QuotaExhausted):
        ledger.reserve(1, bucket="search", priority="system")
    assert ledger.units_left(bucket="search", priority="system") == 0
    assert ledger.units_left(bucket="search") == 4
    assert ledger.units_left(priority="system") == 9_000  # default: 10,000 less its 1,000 reserve
    for _ in range(4):
        ledger.reserve(1, bucket="search")
    with pytest.raises(QuotaExhausted):
        ledger.reserve(1, bucket="search")


def test_disabled_key_is_disabled_in_every_bucket(make_ledger):
    """Given one of two keys disabled, when each bucket reserves, then only the other key pays, and with both
    disabled every bucket answers NoApiKeys."""
    ledger = make_ledger(keys=KEYS[:2])
    ledger.disable(FP[0], "API_KEY_INVALID")
    for bucket in ("default", "search", "video_stats"):
        assert ledger.reserve(1, bucket=bucket).fingerprint == FP[1]
    assert {b.state for b in ledger.status()[0].buckets.values()} == {"disabled"}
    ledger.disable(FP[1], "SERVICE_DISABLED")
    for bucket in ("default", "search", "video_stats"):
        with pytest.raises(NoApiKeys):
            ledger.reserve(1, bucket=bucket)


def test_release_gives_a_lease_back_to_its_bucket_and_day(make_ledger):
    """Given leases in two buckets, when one is released (twice), then only its bucket's count goes down, never below 0."""
    ledger = make_ledger(keys=KEYS[:1])
    search = ledger.reserve(1, bucket="search")
    ledger.reserve(2)
    ledger.release(search)
    ledger.release(search)
    status = ledger.status()[0]
    assert (status.buckets["search"].used, status.used) == (0, 2)
