"""Key fingerprints and the Pacific quota day, across DST changes and around midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pipeline.youtube.quota import KeyStatus, Lease, key_fingerprint, next_pacific_midnight, pacific_day

KEY = "AIzaFakeKey-DISTINCTIVE-0001"


def test_fingerprint_is_first_8_hex_of_sha256():
    """Given a key, when fingerprinted, then the first 8 hex digits of its SHA-256 come out (as sha256sum says)."""
    assert key_fingerprint(KEY) == "0526b63f"
    assert key_fingerprint(KEY + "x") != key_fingerprint(KEY)


def test_lease_repr_hides_the_key():
    """Given a lease, when repr'd or str'd, then the key is not in the text but the fingerprint is."""
    lease = Lease(key=KEY, fingerprint=key_fingerprint(KEY), units=1, day=date(2026, 3, 8))
    assert KEY not in repr(lease) and KEY not in str(lease)
    assert "0526b63f" in repr(lease)


def test_key_status_has_no_key_field():
    """Given the KeyStatus record, when its fields are listed, then none of them can hold a key."""
    assert "key" not in KeyStatus.__dataclass_fields__


@pytest.mark.parametrize(
    ("utc", "day"),
    [
        # Winter (PST, UTC-8): the day turns at 08:00 UTC.
        (datetime(2026, 1, 15, 7, 59, 59, tzinfo=UTC), date(2026, 1, 14)),
        (datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC), date(2026, 1, 15)),
        # Summer (PDT, UTC-7): the day turns at 07:00 UTC.
        (datetime(2026, 6, 15, 6, 59, 59, tzinfo=UTC), date(2026, 6, 14)),
        (datetime(2026, 6, 15, 7, 0, 0, tzinfo=UTC), date(2026, 6, 15)),
        # 2026-03-08: clocks spring forward at 02:00 PST; that day starts at 08:00 UTC...
        (datetime(2026, 3, 8, 7, 59, 59, tzinfo=UTC), date(2026, 3, 7)),
        (datetime(2026, 3, 8, 8, 0, 0, tzinfo=UTC), date(2026, 3, 8)),
        # ...and ends at 07:00 UTC the next morning (a 23-hour day).
        (datetime(2026, 3, 9, 6, 59, 59, tzinfo=UTC), date(2026, 3, 8)),
        (datetime(2026, 3, 9, 7, 0, 0, tzinfo=UTC), date(2026, 3, 9)),
        # 2026-11-01: clocks fall back at 02:00 PDT; that day starts at 07:00 UTC and lasts 25 hours.
        (datetime(2026, 11, 1, 6, 59, 59, tzinfo=UTC), date(2026, 10, 31)),
        (datetime(2026, 11, 1, 7, 0, 0, tzinfo=UTC), date(2026, 11, 1)),
        (datetime(2026, 11, 2, 7, 59, 59, tzinfo=UTC), date(2026, 11, 1)),
        (datetime(2026, 11, 2, 8, 0, 0, tzinfo=UTC), date(2026, 11, 2)),
    ],
)
def test_pacific_day(utc, day):
    """Given a UTC instant near a Pacific midnight, when its quota day is named, then it is the Los Angeles date."""
    assert pacific_day(utc) == day


@pytest.mark.parametrize(
    ("utc", "midnight"),
    [
        (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), datetime(2026, 1, 16, 8, 0, tzinfo=UTC)),
        (datetime(2026, 6, 15, 6, 59, 59, tzinfo=UTC), datetime(2026, 6, 15, 7, 0, tzinfo=UTC)),
        (datetime(2026, 6, 15, 7, 0, 0, tzinfo=UTC), datetime(2026, 6, 16, 7, 0, tzinfo=UTC)),
        # On the spring-forward day the next midnight is PDT already.
        (datetime(2026, 3, 8, 9, 0, tzinfo=UTC), datetime(2026, 3, 9, 7, 0, tzinfo=UTC)),
        # The evening before, it is still PST.
        (datetime(2026, 3, 7, 20, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC)),
        # On the fall-back day the next midnight is PST again.
        (datetime(2026, 11, 1, 8, 0, tzinfo=UTC), datetime(2026, 11, 2, 8, 0, tzinfo=UTC)),
        (datetime(2026, 10, 31, 20, 0, tzinfo=UTC), datetime(2026, 11, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_next_pacific_midnight(utc, midnight):
    """Given an instant, when the quota reset is computed, then it is the next Los Angeles midnight in aware UTC."""
    result = next_pacific_midnight(utc)
    assert result == midnight
    assert result.utcoffset() == timedelta(0)
    assert pacific_day(result) == pacific_day(utc) + timedelta(days=1)


def test_dst_days_are_23_and_25_hours_long():
    """Given the 2026 DST change days, when their length is measured between resets, then they last 23 and 25 hours."""
    spring_start = next_pacific_midnight(datetime(2026, 3, 7, 12, tzinfo=UTC))
    fall_start = next_pacific_midnight(datetime(2026, 10, 31, 12, tzinfo=UTC))
    assert next_pacific_midnight(spring_start) - spring_start == timedelta(hours=23)
    assert next_pacific_midnight(fall_start) - fall_start == timedelta(hours=25)


def test_other_offsets_and_naive_times():
    """Given a non-UTC aware time or a naive time (taken as UTC), when the day is named, then it matches the UTC instant."""
    tokyo = timezone(timedelta(hours=9))
    assert pacific_day(datetime(2026, 6, 15, 16, 0, tzinfo=tokyo)) == date(2026, 6, 15)  # 07:00 UTC
    # A naive instant is read as UTC, on purpose: that is what this line pins.
    assert pacific_day(datetime(2026, 6, 15, 6, 59)) == date(2026, 6, 14)  # noqa: DTZ001
