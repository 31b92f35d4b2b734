"""A run's lookup answers, kept in Redis the moment they arrive, so a redelivered ``resolve`` pays nothing.

A broker restart (or a worker killed between its API calls and its commit) redelivers a ``resolve``
message whose lookups were already answered and billed. Each answer a delivery settles is written
here before the delivery's commit, and dropped once the commit has made the job's new status the
record: the next delivery of the same jobs settles them from here instead of asking the API again.
Only what a lookup decided is kept (a channel found, with its metadata when the lookup brought it;
or the reason nothing was found): quota waits and transient errors are asked again. Redis losing the
hash costs only the repeat it was there to save.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from redis import Redis

from models import Confidence, JobStatus
from pipeline.completion import RUN_KEY_TTL_SECONDS, run_key
from pipeline.stages.outcome import Failure, Outcome, Resolved
from pipeline.youtube.records import ChannelRecord

log = logging.getLogger(__name__)

ANSWERS = "answers"  # run_key(run_id, ANSWERS): job id -> JSON of what its lookup settled
# run_key(run_id, PROBED): custom URLs parked for the search bucket after forHandle and forUsername
# found nothing; back from the wait they go straight to search.
PROBED = "probed"
TTL_SECONDS = (
    24 * 3600
)  # outlives any redelivery; answers are dropped at their commit, this only sweeps leftovers


def _record_json(record: ChannelRecord) -> dict[str, Any]:
    data = dataclasses.asdict(record)
    if record.published_at is not None:
        data["published_at"] = record.published_at.isoformat()
    return data


def _record_of(data: dict[str, Any]) -> ChannelRecord:
    published = data.get("published_at")
    data["published_at"] = datetime.fromisoformat(published) if published else None
    return ChannelRecord(**data)


def _resolved_json(found: Resolved) -> list[str]:
    return [found.channel_id, found.method, str(found.confidence)]


def _resolved_of(data: list[str]) -> Resolved:
    return Resolved(data[0], data[1], Confidence(data[2]))


def encode(outcome: Outcome, job_id: int) -> str | None:
    """What ``outcome`` decided for ``job_id``, as JSON; ``None`` when it decided nothing worth keeping."""
    if job_id in outcome.done:
        found = outcome.done[job_id]
        record = outcome.channels.get(found.channel_id)
        if record is None:
            return None
        return json.dumps({"done": _resolved_json(found), "record": _record_json(record)})
    if job_id in outcome.fetching:
        return json.dumps({"fetching": _resolved_json(outcome.fetching[job_id])})
    if job_id in outcome.failed:
        failure = outcome.failed[job_id]
        return json.dumps({"failed": [failure.code, failure.message, str(failure.status)]})
    return None


def settle(outcome: Outcome, job_id: int, answer: str) -> bool:
    """Put a kept answer back into ``outcome``; ``False`` when it cannot be read (then ask again)."""
    try:
        data = json.loads(answer)
        if "done" in data:
            record = _record_of(data["record"])
            found = _resolved_of(data["done"])
            outcome.done[job_id] = found
            outcome.channels[record.channel_id] = record
        elif "fetching" in data:
            outcome.fetching[job_id] = _resolved_of(data["fetching"])
        elif "failed" in data:
            code, message, status = data["failed"]
            outcome.failed[job_id] = Failure(code, message, JobStatus(status))
        else:
            return False
    except (ValueError, TypeError, KeyError, IndexError):
        log.warning("ignoring an unreadable kept answer for job %s", job_id)
        return False
    return True


def remember(redis: Redis, run_id: str, outcome: Outcome, job_ids: Iterable[int]) -> None:
    """Keep what ``outcome`` decided for these jobs (one round trip); a Redis error only costs a repeat."""
    answers = {str(job_id): text for job_id in job_ids if (text := encode(outcome, job_id)) is not None}
    if not answers:
        return
    key = run_key(run_id, ANSWERS)
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.hset(key, items=[part for pair in answers.items() for part in pair])
        pipe.expire(key, TTL_SECONDS)
        pipe.execute()
    except Exception:
        log.warning("could not keep %d lookup answers of run %s", len(answers), run_id, exc_info=True)


def recall(redis: Redis, run_id: str, job_ids: list[int], outcome: Outcome) -> set[int]:
    """Settle into ``outcome`` every job a previous delivery already had answered; return their ids."""
    if not job_ids:
        return set()
    try:
        kept = redis.hmget(run_key(run_id, ANSWERS), [str(j) for j in job_ids])
    except Exception:
        log.warning("could not read the kept lookup answers of run %s", run_id, exc_info=True)
        return set()
    recalled: set[int] = set()
    for job_id, answer in zip(job_ids, kept, strict=True):
        if answer is not None and settle(
            outcome, job_id, answer.decode() if isinstance(answer, bytes) else answer
        ):
            recalled.add(job_id)
    return recalled


def drop(redis: Redis, run_id: str, job_ids: Iterable[int]) -> None:
    """After the commit: the database holds these jobs' answers now."""
    fields = [str(j) for j in job_ids]
    if not fields:
        return
    try:
        redis.hdel(run_key(run_id, ANSWERS), *fields)
    except Exception:
        log.warning("could not drop %d kept lookup answers of run %s", len(fields), run_id, exc_info=True)


def remember_probed(redis: Redis, run_id: str, job_ids: Iterable[int]) -> None:
    """These custom URLs' handle and username probes found nothing; only a search is left to ask."""
    members = [str(j) for j in job_ids]
    if not members:
        return
    key = run_key(run_id, PROBED)
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.sadd(key, *members)
        pipe.expire(key, RUN_KEY_TTL_SECONDS)
        pipe.execute()
    except Exception:
        log.warning("could not keep the probed custom URLs of run %s", run_id, exc_info=True)


def probed(redis: Redis, run_id: str, job_ids: list[int]) -> set[int]:
    """Which of these custom URLs were probed already (Redis lost: none, the probes are asked again)."""
    try:
        flags = redis.smismember(run_key(run_id, PROBED), [str(j) for j in job_ids])
    except Exception:
        log.warning("could not read the probed custom URLs of run %s", run_id, exc_info=True)
        return set()
    return {job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag}
