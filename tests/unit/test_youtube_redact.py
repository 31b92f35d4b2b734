"""redact() and the log filter: no key survives in URLs, form bodies, reprs or log records."""

from __future__ import annotations

import logging

import httplib2
import pytest
from googleapiclient.errors import HttpError

from pipeline.youtube.redact import install_log_redaction, redact, register_secret

KEY = "AIzaFakeKey-DISTINCTIVE-0001"
REAL_SHAPED = "AIzaTestA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p"  # 39 characters, like a real key


@pytest.mark.parametrize(
    "text",
    [
        f"http://127.0.0.1:8765/youtube/v3/channels?part=snippet&id=UCx&key={KEY}&alt=json",
        f"https://youtube.googleapis.com/youtube/v3/channels?key={KEY}",
        f"GET /youtube/v3/videos?alt=json&key={KEY} HTTP/1.1",
        f"part=snippet%2Cstatistics&id=UCa%2CUCb&key={KEY}&alt=json",  # the POST override form body
        f"{{'key': '{KEY}', 'part': 'snippet'}}",
        f'{{"key": "{KEY}"}}',
        f"developerKey={KEY}",
        f"next=http%3A%2F%2Fh%2Fx%3Fkey%3D{KEY}%26alt%3Djson",
        f"KEY={KEY}",
    ],
)
def test_key_parameter_is_redacted(text):
    """Given a URL, form body or JSON-ish text holding a key, when redacted, then the key is gone and a marker remains."""
    out = redact(text)
    assert KEY not in out
    assert "REDACTED" in out


def test_everything_around_the_key_is_kept():
    """Given a URL with parameters after the key, when redacted, then only the key's value changes."""
    url = f"http://h/youtube/v3/channels?part=snippet&key={KEY}&alt=json"
    assert redact(url) == "http://h/youtube/v3/channels?part=snippet&key=REDACTED&alt=json"


def test_http_error_str_and_repr_are_redacted():
    """Given an HttpError whose URI holds the key, when its str and repr are redacted, then the key is gone."""
    resp = httplib2.Response({"status": "400"})
    content = b'{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key."}}'
    error = HttpError(resp, content, uri=f"http://127.0.0.1:1/youtube/v3/channels?id=UCx&key={KEY}&alt=json")
    assert KEY in str(error)  # the reason this module exists
    assert KEY not in redact(str(error))
    assert KEY not in redact(repr(error))
    assert KEY not in redact(error.uri)


def test_key_shaped_strings_are_redacted_anywhere():
    """Given a real-shaped key outside any key= parameter, when redacted, then it is still removed."""
    assert REAL_SHAPED not in redact(f"path /v3/{REAL_SHAPED}/x")


def test_registered_secret_is_redacted_anywhere():
    """Given a configured key registered as a secret, when it appears bare in text, then it is removed."""
    register_secret("plain-secret-0042")
    assert redact("bare plain-secret-0042 here") == "bare REDACTED here"


def test_text_without_keys_is_unchanged():
    """Given text without any key, when redacted, then it comes back as it was."""
    text = "channels.list: backendError (HTTP 503): Backend Error"
    assert redact(text) == text
    assert redact(b"bytes key=abc") == "bytes key=REDACTED"


def test_log_filter_rewrites_library_records(caplog):
    """Given redaction installed, when googleapiclient and httplib2 loggers log a URL with a key (args, %-formatted, exc_info), then no captured text holds it."""
    install_log_redaction()
    install_log_redaction()  # idempotent
    assert (
        logging.getLogger("googleapiclient.discovery").filters.count(
            logging.getLogger("googleapiclient.http").filters[0]
        )
        == 1
    )
    url = f"http://127.0.0.1:1/youtube/v3/channels?key={KEY}&alt=json"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("googleapiclient.discovery").debug("URL being requested: GET %s", url)
        logging.getLogger("googleapiclient.http").warning(
            f"Sleeping 1.00 seconds before retry 1 of 3 for request: GET {url}"  # noqa: G004 (as googleapiclient logs it)
        )
        logging.getLogger("httplib2").info("connect %s", url)
        error = HttpError(httplib2.Response({"status": "503"}), b"{}", uri=url)
        try:
            raise error
        except HttpError:
            logging.getLogger("googleapiclient.http").exception("failed")
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "REDACTED" in text
    assert KEY not in text
