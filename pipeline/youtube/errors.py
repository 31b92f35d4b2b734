"""YouTube errors, translated from googleapiclient at the client boundary.

Transient ones are retried (by the client, then by the actor); permanent ones fail the job at once;
quota and bad-key errors steer the key pool. None of them carries an API key: keys are named by
fingerprint only.
"""

from __future__ import annotations

from datetime import datetime

from pipeline.errors import YtCollectError


class YouTubeError(YtCollectError):
    """An API call failed. ``reason`` is the API's ``errors[0].reason`` (or our own code)."""

    def __init__(self, message: str, *, reason: str, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.endpoint = endpoint

    @property
    def error_code(self) -> str:
        """The short code stored on a failed job."""
        return self.reason


class TransientYouTubeError(YouTubeError):
    """5xx, 429, rate limits, timeouts, dropped connections: worth trying again later."""


class PermanentYouTubeError(YouTubeError):
    """400s and other answers that will not change on retry: fail the job, leave the keys alone."""


class MethodUnavailable(PermanentYouTubeError):
    """The key's project may not call this method (403 or 404 for it alone): use another way for today."""

    def __init__(
        self, message: str, *, reason: str, key_fingerprint: str | None, status: int | None, endpoint: str
    ) -> None:
        super().__init__(message, reason=reason, status=status, endpoint=endpoint)
        self.key_fingerprint = key_fingerprint


class BadKeyError(YouTubeError):
    """A key is invalid, blocked or its project has the API disabled; the pool disables it."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        key_fingerprint: str,
        status: int | None = None,
        endpoint: str = "",
    ) -> None:
        super().__init__(message, reason=reason, status=status, endpoint=endpoint)
        self.key_fingerprint = key_fingerprint


class QuotaExhausted(YouTubeError):
    """No key has room left in ``bucket`` for this Pacific day (or within the caller's budget).

    Only the work that needs that bucket waits for ``resets_at``: the other buckets may still pay.
    """

    def __init__(
        self, message: str, *, resets_at: datetime, bucket: str = "default", endpoint: str = ""
    ) -> None:
        super().__init__(message, reason="quotaExhausted", status=None, endpoint=endpoint)
        self.resets_at = resets_at
        self.bucket = bucket


class NoApiKeys(YouTubeError):
    """The client was asked to call the API with no key configured (or every key disabled)."""

    def __init__(self, message: str = "no usable YouTube API key: set YT_API_KEYS") -> None:
        super().__init__(message, reason="noApiKeys")
