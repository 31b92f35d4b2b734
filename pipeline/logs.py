"""Structured logs that carry the run and job ids, with API keys scrubbed from every record.

``configure_logging(level, json=...)`` formats the root handlers (Dramatiq's worker handler when it
already set one up, a stderr handler otherwise) either as one JSON object per line or as readable
text, and always installs the key redaction of :mod:`pipeline.youtube.redact`.

The ids come from context variables, so a stage never threads them through its calls:
:class:`actors.middleware.LogContext` sets them around every message from its ``run_id``/``job_ids``
keyword arguments (``set_message_context``), and every record logged meanwhile, in any module,
carries them (this module stays free of Dramatiq, like the rest of ``pipeline``).
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from pipeline.youtube.redact import install_log_redaction, redact

# One variable per field, read by every record's formatter.
_run_id: ContextVar[str | None] = ContextVar("ytc_run_id", default=None)
_job_ids: ContextVar[tuple[int, ...] | None] = ContextVar("ytc_job_ids", default=None)
_message_id: ContextVar[str | None] = ContextVar("ytc_message_id", default=None)
_actor: ContextVar[str | None] = ContextVar("ytc_actor", default=None)

CONTEXT_FIELDS = ("run_id", "job_ids", "message_id", "actor")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s [%(processName)s/%(threadName)s] %(name)s: %(message)s"


def current_context() -> dict[str, Any]:
    """The ids in effect here (absent ones left out)."""
    values = {
        "run_id": _run_id.get(),
        "job_ids": _job_ids.get(),
        "message_id": _message_id.get(),
        "actor": _actor.get(),
    }
    return {name: value for name, value in values.items() if value is not None}


class ContextFilter(logging.Filter):
    """Stamp each record with the current run and job ids (``extra=`` given at the call wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, context.get(name))
        return True


def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    values = {name: getattr(record, name, None) for name in CONTEXT_FIELDS}
    if isinstance(values["job_ids"], tuple):
        values["job_ids"] = list(values["job_ids"])
    return {name: value for name, value in values.items() if value is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the ids, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        entry.update(_context_of(record))
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # The redacting filter already ran on the handler; this is the belt to its braces, for a
        # record whose ids or text reached the formatter another way.
        return redact(jsonlib.dumps(entry, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """Readable lines; the ids follow the message as ``run=… jobs=…`` when there are any."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context_of(record)
        if not context:
            return line
        jobs = context.get("job_ids")
        parts = [f"run={context['run_id']}"] if "run_id" in context else []
        if jobs is not None:
            parts.append("jobs=" + ",".join(str(j) for j in jobs[:20]) + ("…" if len(jobs) > 20 else ""))
        if "actor" in context:
            parts.append(f"actor={context['actor']}")
        if not parts:
            return line
        head, sep, rest = line.partition("\n")  # keep a traceback below the line it belongs to
        return f"{head}  [{' '.join(parts)}]{sep}{rest}"


_CONTEXT_FILTER = ContextFilter()


def configure_logging(
    level: str | int = "INFO", json: bool = False, *, stream: IO[str] | None = None
) -> None:
    """Format the root handlers (adding a stderr one if there is none) and install key redaction.

    Idempotent. Under the ``dramatiq`` CLI the worker's own handler (a pipe to the master process)
    is reused, so lines stay unmangled; elsewhere a handler on ``stream`` (stderr) is added.
    """
    root = logging.getLogger()
    root.setLevel(level.upper() if isinstance(level, str) else level)
    handlers = [h for h in root.handlers if not _is_pytest_capture(h)]
    if not handlers:
        handlers = [logging.StreamHandler(stream or sys.stderr)]
        root.addHandler(handlers[0])
    formatter: logging.Formatter = JsonFormatter() if json else TextFormatter()
    for handler in handlers:
        handler.setFormatter(formatter)
        if _CONTEXT_FILTER not in handler.filters:
            # Before the redacting filter, which install_log_redaction appends below.
            handler.filters.insert(0, _CONTEXT_FILTER)
    # Libraries that log every connection at INFO drown the ids we care about; raise, never lower, their
    # level (Dramatiq already silences pika to CRITICAL in its workers).
    for noisy in ("pika", "urllib3", "alembic.runtime.plugins"):
        logger = logging.getLogger(noisy)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    install_log_redaction()


def _is_pytest_capture(handler: logging.Handler) -> bool:
    # pytest's capture handlers come and go per test; formatting them would leak between tests.
    return type(handler).__module__.startswith("_pytest")


def set_message_context(*, run_id: Any, job_ids: Any, message_id: str | None, actor: str | None) -> None:
    """Set the ids of the message a worker thread starts (the actors' LogContext middleware calls this)."""
    _run_id.set(str(run_id) if run_id is not None else None)
    _job_ids.set(tuple(job_ids) if isinstance(job_ids, list | tuple) else None)
    _message_id.set(message_id)
    _actor.set(actor)


def clear_message_context() -> None:
    for var in (_run_id, _job_ids, _message_id, _actor):
        var.set(None)
