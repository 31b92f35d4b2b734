"""Bodies Dramatiq cannot turn into a message still reach ``QueueGuard``, so they are answered or refused.

Dramatiq builds a ``Message`` from the decoded JSON with ``Message(**fields)``: a body with no
``kwargs`` or ``options`` key, an unknown top-level key (``run_id`` beside the envelope), ``args``
that is no list, or a body that is not a JSON object raised inside the consumer, which logged a
traceback and dead-lettered it. A ``start_run`` naming its run so vanished without an answer. This
encoder decodes such a body into a stand-in message (empty arguments, a fresh id) and keeps, by that
id and in this process only, why it was unusable and what it said; ``QueueGuard`` takes that back
before anything runs. A publisher cannot forge an entry: the id is ours and the table is in memory.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from dramatiq.encoder import JSONEncoder, MessageData
from dramatiq.errors import DecodeError

ENVELOPE_FIELDS = ("queue_name", "actor_name", "args", "kwargs", "options")
OPTIONAL_FIELDS = ("message_id", "message_timestamp")
# Stand-ins wait here only between a consumer's decode and its handling of that message; the bound
# covers messages decoded by a consumer that closed before handling them (RabbitMQ redelivers those).
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class Unusable:
    """Why a body could not be a message, and its fields when it was a JSON object."""

    reason: str
    fields: dict[str, Any] | None


_pending: OrderedDict[str, Unusable] = OrderedDict()
_lock = threading.Lock()


def envelope_problem(fields: Any) -> str | None:
    """Why Dramatiq could not build a usable message from ``fields`` (or one whose id or timestamp is not
    what every later step assumes), or None when it can."""
    if not isinstance(fields, dict):
        return f"the body is a JSON {type(fields).__name__}, not an object (a Dramatiq message)"
    problems = []
    missing = [name for name in ENVELOPE_FIELDS if name not in fields]
    if missing:
        problems.append(
            f"the envelope has no {', '.join(missing)} (a Dramatiq message needs {', '.join(ENVELOPE_FIELDS)})"
        )
    unknown = sorted(str(name)[:40] for name in set(fields) - {*ENVELOPE_FIELDS, *OPTIONAL_FIELDS})
    if unknown:
        problems.append(f"unknown envelope field(s) {unknown[:10]}: a start_run's fields go in kwargs")
    if "args" in fields and not isinstance(fields["args"], list):
        problems.append("args must be a list (the actor's positional arguments; start_run takes none)")
    if not isinstance(fields.get("message_id", ""), str):
        problems.append("message_id must be a string")  # a dict one was unhashable in every table keyed by it
    stamp = fields.get("message_timestamp", 0)
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        problems.append("message_timestamp must be an integer (milliseconds since the epoch)")
    return "; ".join(problems) or None


def take(message_id: str) -> Unusable | None:
    """The unusable body decoded as ``message_id`` in this process (once), or None for a real message."""
    if not isinstance(message_id, str):
        return None
    with _lock:
        return _pending.pop(message_id, None)


class EnvelopeEncoder(JSONEncoder):
    """Dramatiq's JSON encoding; decoding never raises, an unusable body becomes a stand-in message."""

    def decode(self, data: bytes) -> MessageData:
        try:
            fields = super().decode(data)
        except DecodeError:
            return _stand_in(Unusable("the body is not JSON in UTF-8", None))
        problem = envelope_problem(fields)
        if problem is None:
            return fields
        return _stand_in(Unusable(problem, fields if isinstance(fields, dict) else None))


def _stand_in(unusable: Unusable) -> MessageData:
    message_id = str(uuid.uuid4())
    with _lock:
        _pending[message_id] = unusable
        while len(_pending) > MAX_PENDING:
            _pending.popitem(last=False)
    fields = unusable.fields or {}
    return {
        "queue_name": _text(fields.get("queue_name")),
        "actor_name": _text(fields.get("actor_name")),
        "args": [],
        "kwargs": {},
        "options": {},
        "message_id": message_id,
        "message_timestamp": int(time.time() * 1000),
    }


def _text(value: Any) -> str:
    return value[:200] if isinstance(value, str) else ""
