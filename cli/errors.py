"""Turn any exception that escapes a command into one line on stderr, with the fix when there is one.

A newcomer's first hour met 45-line tracebacks for a missing file, a pydantic dump for one bad setting
and SQLAlchemy's for a racing first run. Commands say their own expected errors (``cli.app.fail``);
this is the net under them, so that no failure of any command prints more than one line.
``YTCOLLECT_TRACEBACK=1`` shows the traceback as well, for a bug report.
"""

from __future__ import annotations

import errno
import os
from typing import Any

TRACEBACK_VARIABLE = "YTCOLLECT_TRACEBACK"

# Settings whose values may carry a password or a key: named, never echoed.
_SECRET_SETTINGS = ("url", "keys")


def describe(exc: BaseException) -> tuple[str, str | None, int]:
    """``(message, fix, exit code)`` for an exception no command handled itself."""
    from pipeline.youtube.redact import redact

    message, fix, code = _describe(exc)
    return redact(message)[:500], fix, code


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _describe(exc: BaseException) -> tuple[str, str | None, int]:
    from pipeline.errors import ConfigurationError, InvalidRequest, RunNotFound, YtCollectError

    if isinstance(exc, RunNotFound):
        return f"{_first_line(exc)} in the database {database_location()}", "`ytcollect runs` lists them", 1
    if isinstance(exc, ConfigurationError):
        return _first_line(exc), "correct it in the environment or .env; .env.example lists every setting", 2
    if isinstance(exc, InvalidRequest):
        return _first_line(exc), None, 2
    if isinstance(exc, YtCollectError):  # raised on purpose, with a message meant for a person
        return _first_line(exc), None, 1
    settings_error = _settings_error(exc)
    if settings_error is not None:
        return settings_error
    database_error = _database_error(exc)
    if database_error is not None:
        return database_error
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return (
                f"address already in use ({exc.strerror})",
                "choose another --port, or stop what uses it",
                1,
            )
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{where}: {exc.strerror or _first_line(exc)}", None, 1
    return (
        f"unexpected {type(exc).__name__}: {_first_line(exc)}",
        f"please report it; {TRACEBACK_VARIABLE}=1 shows the traceback",
        1,
    )


def _settings_error(exc: BaseException) -> tuple[str, str | None, int] | None:
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return None
    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    problems = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error.get("loc", ())).upper() or "?"
        shown = "" if any(part in name.lower() for part in _SECRET_SETTINGS) else _shown(error.get("input"))
        problems.append(f"{name}{shown}: {error.get('msg', 'invalid')}")
    return (
        "invalid setting " + "; ".join(problems),
        "correct it in the environment or .env; .env.example lists every setting",
        2,
    )


def _shown(value: Any) -> str:
    return "" if value is None else f"={str(value)[:60]!r}"


def _database_error(exc: BaseException) -> tuple[str, str | None, int] | None:
    try:
        import sqlalchemy.exc
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return None
    if not isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
        return None
    original = getattr(exc, "orig", None) or exc
    where = database_location()
    return (
        f"the database {where} answered: {_first_line(original)}",
        "`ytcollect doctor` checks it",
        1,
    )


def database_location() -> str:
    """The configured database, for an error line: the SQLite path, or PostgreSQL's host and name."""
    from urllib.parse import urlsplit

    try:
        from pipeline.config import get_settings

        url = get_settings().sqlalchemy_url
    except Exception:  # the settings themselves are broken: say nothing more specific
        return "(unknown)"
    if url.startswith("sqlite"):
        return os.path.abspath(url.split("///", 1)[-1])
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 5432}{parts.path}"
