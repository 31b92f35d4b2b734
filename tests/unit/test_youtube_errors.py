"""Error classification from the API's verbatim error bodies (youtube-api.md), reading both reason lists."""

from __future__ import annotations

import json

import pytest

from pipeline.youtube.parsers import classify_error, error_reasons

# Verbatim from youtube-api.md, "Exact bodies seen in the wild".
QUOTA_EXCEEDED = r'{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your \u003ca href=\"/youtube/v3/getting-started#quota\"\u003equota\u003c/a\u003e.","errors":[{"message":"The request cannot be completed because you have exceeded your \u003ca href=\"/youtube/v3/getting-started#quota\"\u003equota\u003c/a\u003e.","domain":"youtube.quota","reason":"quotaExceeded"}]}}'
KEY_INVALID = r'{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","errors":[{"message":"API key not valid. Please pass a valid API key.","domain":"global","reason":"badRequest"}],"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"youtube.googleapis.com"}},{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"API key not valid. Please pass a valid API key."}]}}'
PLAYLIST_NOT_FOUND = r"""{"error":{"code":404,"message":"The playlist identified with the request's \u003ccode\u003eplaylistId\u003c/code\u003e parameter cannot be found.","errors":[{"message":"The playlist identified with the request's \u003ccode\u003eplaylistId\u003c/code\u003e parameter cannot be found.","domain":"youtube.playlistItem","reason":"playlistNotFound","location":"playlistId","locationType":"parameter"}]}}"""
BACKEND_ERROR = r'{"error":{"errors":[{"domain":"global","reason":"backendError","message":"Backend Error"}],"code":503,"message":"Backend Error"}}'

# Built from the documented envelope and the table of cases (not recorded verbatim).
SERVICE_DISABLED = json.dumps(
    {
        "error": {
            "code": 403,
            "message": "YouTube Data API v3 has not been used in project 123 before or it is disabled.",
            "errors": [
                {
                    "message": "YouTube Data API v3 has not been used ...",
                    "domain": "usageLimits",
                    "reason": "accessNotConfigured",
                    "extendedHelp": "https://console.developers.google.com",
                }
            ],
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "SERVICE_DISABLED",
                    "domain": "googleapis.com",
                    "metadata": {"service": "youtube.googleapis.com"},
                }
            ],
        }
    }
)
KEY_BLOCKED = json.dumps(
    {
        "error": {
            "code": 403,
            "message": "Requests to this API youtube method youtube.api.v3.V3DataChannelService.List are blocked.",
            "errors": [
                {
                    "message": "Requests to this API ... are blocked.",
                    "domain": "global",
                    "reason": "forbidden",
                }
            ],
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_SERVICE_BLOCKED",
                    "domain": "googleapis.com",
                }
            ],
        }
    }
)
FORBIDDEN_PLAIN = json.dumps(
    {
        "error": {
            "code": 403,
            "message": "Forbidden",
            "errors": [{"message": "Forbidden", "domain": "youtube.channel", "reason": "forbidden"}],
        }
    }
)
RATE_LIMIT_403 = json.dumps(
    {
        "error": {
            "code": 403,
            "message": "Rate Limit Exceeded",
            "errors": [
                {"message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}
            ],
        }
    }
)
USER_RATE_LIMIT_403 = json.dumps(
    {
        "error": {
            "code": 403,
            "message": "User Rate Limit Exceeded",
            "errors": [
                {
                    "message": "User Rate Limit Exceeded",
                    "domain": "usageLimits",
                    "reason": "userRateLimitExceeded",
                }
            ],
        }
    }
)
RATE_LIMIT_429 = json.dumps(
    {
        "error": {
            "code": 429,
            "message": "Too Many Requests",
            "errors": [{"message": "Too Many Requests", "domain": "global", "reason": "rateLimitExceeded"}],
        }
    }
)
BACKEND_500 = json.dumps(
    {
        "error": {
            "code": 500,
            "message": "Backend Error",
            "errors": [{"message": "Backend Error", "domain": "global", "reason": "backendError"}],
        }
    }
)
INVALID_FILTERS = json.dumps(
    {
        "error": {
            "code": 400,
            "message": "too many ids",
            "errors": [
                {"message": "too many ids", "domain": "youtube.parameter", "reason": "invalidFilters"}
            ],
        }
    }
)
UNKNOWN_PART = json.dumps(
    {
        "error": {
            "code": 400,
            "message": "'nope'",
            "errors": [
                {"message": "'nope'", "domain": "youtube.part", "reason": "unknownPart", "location": "part"}
            ],
        }
    }
)


def test_verbatim_bodies_parse():
    """Given the verbatim bodies, when both reason lists are read, then errors[] and details[] reasons both come out."""
    assert error_reasons(QUOTA_EXCEEDED)[:2] == (["quotaExceeded"], [])
    assert error_reasons(KEY_INVALID)[:2] == (["badRequest"], ["API_KEY_INVALID"])
    assert error_reasons(PLAYLIST_NOT_FOUND.encode())[:2] == (["playlistNotFound"], [])
    assert error_reasons(BACKEND_ERROR)[0] == ["backendError"]
    assert error_reasons(b"<html>502 Bad Gateway</html>") == ([], [], "")


@pytest.mark.parametrize(
    ("status", "body", "kind", "reason"),
    [
        (403, QUOTA_EXCEEDED, "quota", "quotaExceeded"),
        (400, KEY_INVALID, "bad_key", "API_KEY_INVALID"),
        (403, SERVICE_DISABLED, "bad_key", "SERVICE_DISABLED"),
        (403, KEY_BLOCKED, "bad_key", "API_KEY_SERVICE_BLOCKED"),
        (404, PLAYLIST_NOT_FOUND, "not_found", "playlistNotFound"),
        (503, BACKEND_ERROR, "transient", "backendError"),
        (500, BACKEND_500, "transient", "backendError"),
        (403, RATE_LIMIT_403, "transient", "rateLimitExceeded"),
        (403, USER_RATE_LIMIT_403, "transient", "userRateLimitExceeded"),
        (429, RATE_LIMIT_429, "transient", "rateLimitExceeded"),
        (429, "", "transient", "rateLimitExceeded"),
        (502, "<html>Bad Gateway</html>", "transient", "http502"),
        (400, INVALID_FILTERS, "permanent", "invalidFilters"),
        (400, UNKNOWN_PART, "permanent", "unknownPart"),
        (403, FORBIDDEN_PLAIN, "permanent", "forbidden"),
    ],
)
def test_classification(status, body, kind, reason):
    """Given an error answer, when classified, then quota/bad-key/transient/not-found/permanent and the reason match the table."""
    failure = classify_error(status, body.encode())
    assert (failure.kind, failure.reason, failure.status) == (kind, reason, status)


def test_quota_message_is_kept_without_markup_loss():
    """Given the quotaExceeded body, when classified, then its message is carried (it names quota, holds no key)."""
    assert "quota" in classify_error(403, QUOTA_EXCEEDED).message


def test_retry_after_is_read_on_transient_answers():
    """Given a 429 with Retry-After, when classified, then the delay is carried for the backoff to honour."""
    failure = classify_error(429, RATE_LIMIT_429, {"retry-after": "3"})
    assert failure.retry_after == 3.0
    assert (
        classify_error(429, RATE_LIMIT_429, {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}).retry_after
        is None
    )


def test_message_with_a_key_is_redacted():
    """Given an error message that echoes a URL with a key, when classified, then the carried message has no key."""
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": "bad http://h/x?key=AIzaFakeKey-DISTINCTIVE-0001",
                "errors": [{"reason": "invalidParameter"}],
            }
        }
    )
    assert "AIzaFakeKey-DISTINCTIVE-0001" not in classify_error(400, body).message
