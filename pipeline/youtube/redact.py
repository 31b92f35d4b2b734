"""Scrub API keys out of any text a URL can travel through: error messages, reprs and log records.

googleapiclient puts ``key=AIza…`` into ``str(HttpError)``, ``HttpError.uri``, its retry warnings and
its DEBUG request log. The client translates errors at the boundary; this module is the second line:
every string that might hold a URL, a form body or a JSON-ish dump goes through :func:`redact`, and
:func:`install_log_redaction` rewrites log records of the libraries that log URLs.
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "REDACTED"

# ``key=VALUE`` in a query string or a form body (also ``developerKey=…``, ``api_key=…``): the value
# runs up to ``&``, whitespace or a quote. Over-redacting ``monkey=…`` is a price worth paying.
_PARAM = re.compile(r"""(?i)(key\s*=\s*)[^&\s'"]+""")
# The same, percent-encoded once more (a URL carried inside another URL's parameter).
_PARAM_ENCODED = re.compile(r"""(?i)(key%3D)(?:(?!%26)[^&\s'"])+""")
# JSON or a Python dict repr: ``"key": "VALUE"``, ``'developerKey': 'VALUE'``.
_MAPPING = re.compile(r"""(?i)(["']\w*key["']\s*:\s*["'])[^"']*""")
# Anything shaped like a Google API key, wherever it stands.
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{35}")
# The HTTP API's bearer tokens (pipeline.tokens): never logged on purpose, scrubbed if one slips in.
_API_TOKEN = re.compile(r"ytc_[0-9A-Za-z_\-]{20,}")

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secrets_pattern: re.Pattern[str] | None = None


def register_secret(secret: str) -> None:
    """Also redact this exact string wherever it appears, with or without ``key=`` before it."""
    global _secrets_pattern
    if not secret or len(secret) < 6:  # a tiny "secret" would shred ordinary text
        return
    with _secrets_lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        # Longest first, so a key that contains another is removed whole.
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secrets_pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def redact(text: object) -> str:
    """Return ``text`` (made a string) with every API key replaced by ``REDACTED``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = str(text)
    pattern = _secrets_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    text = _PARAM_ENCODED.sub(lambda m: m.group(1) + REDACTED, text)
    text = _MAPPING.sub(lambda m: m.group(1) + REDACTED, text)
    text = _API_TOKEN.sub(REDACTED, text)
    return _GOOGLE_KEY.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrite a record's message, exception text and stack text when they hold a key; never drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: redact what we can see
            message = f"{record.msg} {record.args!r}"
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            clean = redact(text)
            if clean != text:
                # A formatter prints exc_text when it is set; dropping exc_info stops it from
                # formatting the original traceback (whose exception str holds the key) again.
                record.exc_text, record.exc_info = clean, None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
_install_lock = threading.Lock()
# Logger filters apply only to records logged on that very logger, not to ones propagating from
# its children, so every module logger of the two libraries gets the filter, not just the parent.
_LIBRARY_LOGGERS = (
    "googleapiclient",
    "googleapiclient.discovery",
    "googleapiclient.http",
    "googleapiclient.model",
    "googleapiclient._helpers",
    "googleapiclient.discovery_cache",
    "googleapiclient.discovery_cache.file_cache",
    "httplib2",
)


def install_log_redaction() -> None:
    """Add the redacting filter to googleapiclient's and httplib2's loggers and the root handlers.

    Idempotent; call it again after configuring logging to cover handlers added since.
    """
    with _install_lock:
        names = set(_LIBRARY_LOGGERS)
        names.update(
            name
            for name in list(logging.Logger.manager.loggerDict)
            if name.startswith(("googleapiclient.", "httplib2."))
        )
        for name in sorted(names):
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        for handler in logging.getLogger().handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
