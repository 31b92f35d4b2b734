"""What one delivery of a stage did to its jobs, and the one transaction that writes it.

Stages collect an ``Outcome`` while they call the API, then ``apply_outcome`` commits it with guarded
updates (a job only moves out of the states the stage may move it from), so a redelivery that finds
its jobs already settled changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from models import CACHE_PREFIX, Confidence, Job, JobStatus, ResolutionMethod, Run, RunKind
from pipeline import store
from pipeline.context import Context
from pipeline.youtube.errors import QuotaExhausted
from pipeline.youtube.quota import quota_wait_code
from pipeline.youtube.records import ChannelRecord


@dataclass(frozen=True, slots=True)
class Wait:
    """Why a job waits: the bucket no key can pay from, and when it refills."""

    resets_at: datetime
    code: str
    message: str

    @classmethod
    def of(cls, exc: QuotaExhausted) -> Wait:
        return cls(exc.resets_at, quota_wait_code(exc.bucket), str(exc)[:1000])


@dataclass(frozen=True, slots=True)
class Resolved:
    """A job's channel and how it was found (``method`` is a ResolutionMethod, ``cache:``-prefixed on a hit)."""

    channel_id: str
    method: str
    confidence: Confidence


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a job ended without a channel: FAILED with an error code, or NEEDS_SEARCH."""

    code: str
    message: str
    status: JobStatus = JobStatus.FAILED


@dataclass(slots=True)
class Outcome:
    """Everything a delivery settled, keyed by job id; applied in one transaction at the end."""

    done: dict[int, Resolved] = field(default_factory=dict)  # channel known and its metadata saved
    fetching: dict[int, Resolved] = field(default_factory=dict)  # channel known, metadata still needed
    failed: dict[int, Failure] = field(default_factory=dict)
    waits: dict[int, Wait] = field(default_factory=dict)  # job -> the bucket it waits for, and until when
    channels: dict[str, ChannelRecord] = field(default_factory=dict)  # metadata the calls brought

    def found(
        self, job_id: int, record: ChannelRecord, method: ResolutionMethod, confidence: Confidence
    ) -> None:
        """A lookup that brought the channel's metadata with it: the job is done."""
        self.done[job_id] = Resolved(record.channel_id, method, confidence)
        self.channels[record.channel_id] = record

    def merge(self, other: Outcome) -> None:
        """Take in what another part of the same delivery settled (a concurrent lookup's own outcome)."""
        self.done.update(other.done)
        self.fetching.update(other.fetching)
        self.failed.update(other.failed)
        self.waits.update(other.waits)
        self.channels.update(other.channels)

    def settled_ids(self) -> set[int]:
        return {*self.done, *self.fetching, *self.failed, *self.waits}

    def fail(self, job_ids: Iterable[int], code: str, message: str) -> None:
        for job_id in job_ids:
            self.failed[job_id] = Failure(code, message)

    def wait(self, job_ids: Iterable[int], exc: QuotaExhausted) -> None:
        """Park these jobs until ``exc``'s bucket refills (only the jobs that need that bucket)."""
        wait = Wait.of(exc)
        for job_id in job_ids:
            self.waits[job_id] = wait

    @property
    def waiting(self) -> dict[int, datetime]:
        """Each parked job and when its bucket refills."""
        return {job_id: wait.resets_at for job_id, wait in self.waits.items()}

    def terminal(self) -> dict[int, JobStatus]:
        """The jobs this outcome ends, with the status they end in."""
        ended = dict.fromkeys(self.done, JobStatus.DONE)
        ended.update({job_id: failure.status for job_id, failure in self.failed.items()})
        return ended

    def settled(self) -> list[int]:
        """Every job this outcome moved out of its stage (to the next stage, an end, or a quota wait)."""
        return [*self.done, *self.fetching, *self.failed, *self.waits]


def priority(run: Run) -> str:
    """Scheduled (system) runs stop short of the quota reserve kept for interactive ones."""
    return "system" if run.kind == RunKind.SYSTEM else "interactive"


def apply_outcome(
    ctx: Context,
    run: Run,
    outcome: Outcome,
    *,
    from_statuses: Iterable[JobStatus],
    resolving: Iterable[Job] | None = None,
) -> set[int]:
    """One transaction: channels and snapshots, then guarded job transitions; given ``resolving`` (the
    jobs a resolve delivery loaded), what each of them resolved to is recorded as well.

    Returns the jobs of ``outcome.fetching`` that this delivery moved to FETCHING. One already FETCHING
    was moved by a twin delivery of the same message, which committed it before marking it resolved:
    the barrier dispatch has it, or the twin sends it late itself. Sent again, its channel would be
    fetched twice, in a batch of its own (an extra ``channels.list``).
    """
    now = ctx.now()
    allowed = list(from_statuses)
    to_fetching = [s for s in allowed if s != JobStatus.FETCHING]
    with ctx.session() as session:
        # Every job this commit writes, locked at once in id order: a twin delivery committing the same
        # jobs waits, then finds them FETCHING; a cancel or reconcile tick waits, never deadlocks.
        touched = [*outcome.fetching, *outcome.done, *outcome.failed, *outcome.waits]
        locked = store.lock_jobs(session, job_ids=touched, statuses=allowed)
        moved = {job_id for job_id in outcome.fetching if locked.get(job_id) in to_fetching}
        store.save_channels(session, records=outcome.channels.values(), run_id=run.id, now=now)
        if resolving is not None:
            resolved = {**outcome.done, **outcome.fetching}
            found = [
                store.Found(job.kind, job.value, r.channel_id, ResolutionMethod(r.method), r.confidence)
                for job in resolving
                if (r := resolved.get(job.id)) is not None and not r.method.startswith(CACHE_PREFIX)
            ]
            store.record_resolutions(session, found=found, now=now, run_id=run.id)

        def found_row(job_id: int, status: JobStatus, found: Resolved) -> dict[str, object]:
            return {
                "id": job_id,
                "status": status,
                "channel_id": found.channel_id,
                "method": found.method,
                "confidence": found.confidence,
                "error_code": None,  # a job back from a quota wait no longer waits for its bucket
                "error_message": None,
            }

        fetching = [found_row(j, JobStatus.FETCHING, f) for j, f in outcome.fetching.items() if j in moved]
        store.update_jobs(session, rows=fetching, from_statuses=to_fetching, now=now)
        rows = [found_row(job_id, JobStatus.DONE, found) for job_id, found in outcome.done.items()]
        rows.extend(
            {
                "id": job_id,
                "status": failure.status,
                "error_code": failure.code[:64],
                "error_message": failure.message[:1000],
            }
            for job_id, failure in outcome.failed.items()
        )
        rows.extend(
            {
                "id": job_id,
                "status": JobStatus.WAITING_QUOTA,
                "waiting_until": wait.resets_at,
                "error_code": wait.code,
                "error_message": wait.message,
            }
            for job_id, wait in outcome.waits.items()
        )
        store.update_jobs(session, rows=rows, from_statuses=allowed, now=now)
        if outcome.waits:
            store.set_run_waiting(
                session, run_id=run.id, until=max(w.resets_at for w in outcome.waits.values())
            )
    return moved
