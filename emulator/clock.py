"""The emulator's clock: real time plus an offset, or frozen at a start instant; tests move it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


def pacific_day(moment: datetime) -> str:
    """The quota day that ``moment`` falls in: its date at America/Los_Angeles (DST included)."""
    return moment.astimezone(PACIFIC).date().isoformat()


def next_pacific_midnight(moment: datetime) -> datetime:
    """When the quota day of ``moment`` ends, in UTC."""
    local = moment.astimezone(PACIFIC)
    # Midnight of the next local date, built from the date so a DST change that day cannot shift it.
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC).astimezone(UTC)


class EmulatorClock:
    """``now()`` in UTC. Frozen when given a start instant (it then moves only when told)."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the emulator's start time must be timezone-aware")
        self._start = start
        self._lock = threading.Lock()
        self._offset = 0.0
        self._set: float | None = None

    def timestamp(self) -> float:
        with self._lock:
            base = (
                self._set
                if self._set is not None
                else (self._start.timestamp() if self._start is not None else time.time())
            )
            return base + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def advance(self, delta: timedelta | float) -> datetime:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment``; a real-time clock keeps running from there."""
        if moment.tzinfo is None:
            raise ValueError("the clock can only be set to a timezone-aware instant")
        with self._lock:
            if self._start is None:
                self._set = None
                self._offset = moment.timestamp() - time.time()
            else:
                self._set = moment.timestamp()
                self._offset = 0.0
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._set = None
