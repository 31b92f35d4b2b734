"""What a watchlist or a discovery request may say, checked before anything is written.

Every error is one sentence a person can act on (``InvalidRequest``), and a rejected request changes
nothing: a watchlist edit that fails leaves the watchlist as it was, a rejected ``discover`` message
never touches an existing cycle.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from pipeline.errors import InvalidRequest

MAX_KEYWORDS = 100  # per watchlist or per ad-hoc request
MAX_KEYWORD_LENGTH = 200  # characters, after whitespace is collapsed
MAX_NAME_LENGTH = 100
MAX_CYCLE_SEARCH_BUDGET = 500
MAX_WINDOW_DAYS = 3_650
MAX_INTERVAL_HOURS = 8_760  # a year

_REGION = re.compile(r"^[A-Za-z]{2}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})?$")

# The settings a watchlist has, and which of them a single cycle may override in its options.
WATCHLIST_SETTINGS = (
    "region_code",
    "relevance_language",
    "published_within_days",
    "include_channels",
    "interval_hours",
    "keywords_per_cycle",
    "search_budget",
    "start_runs",
)
CYCLE_OPTIONS = (
    "region_code",
    "relevance_language",
    "published_within_days",
    "include_channels",
    "search_budget",
    "start_runs",
)


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clean_text(value: Any, what: str, max_length: int) -> str:
    """A name or keyword: a string, whitespace collapsed, no control character, bounded."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be a string")
    if len(value) > 4 * max_length:  # judged before any work on it: a megabyte keyword is refused at once
        raise InvalidRequest(f"{what} is {len(value):,} characters long (the limit is {max_length})")
    text = " ".join(value.split())
    if len(text) > max_length:
        raise InvalidRequest(f"{what} is {len(text):,} characters long (the limit is {max_length})")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise InvalidRequest(f"{what} contains a control character")
    return text


def clean_keywords(value: Any) -> list[str]:
    """Keywords as given, trimmed, blanks dropped, repeats (any letter case) dropped, bounded."""
    if isinstance(value, str):
        raise InvalidRequest("keywords must be a list of strings, not one string")
    if not isinstance(value, list | tuple):
        raise InvalidRequest("keywords must be a list of strings")
    if len(value) > MAX_KEYWORDS:
        raise InvalidRequest(f"too many keywords: {len(value):,} (the limit is {MAX_KEYWORDS})")
    keywords: list[str] = []
    seen: set[str] = set()
    for number, item in enumerate(value, 1):
        text = clean_text(item, f"keyword {number}", MAX_KEYWORD_LENGTH)
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            keywords.append(text)
    if not keywords:
        raise InvalidRequest("keywords is empty: give at least one keyword")
    return keywords


def clean_name(value: Any) -> str:
    name = clean_text(value, "the watchlist name", MAX_NAME_LENGTH)
    if not name:
        raise InvalidRequest("the watchlist name is empty")
    return name


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be a whole number from {low} to {high:,}")
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be from {low} to {high:,}, not {value:,}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false")
    return value


def clean_setting(name: str, value: Any) -> Any:
    """One watchlist setting (or cycle option), checked; None clears the optional ones."""
    if name in ("include_channels", "start_runs"):
        return _flag(name, value)
    if value is None:
        return None
    if name == "region_code":
        if not isinstance(value, str) or not _REGION.match(value):
            raise InvalidRequest("region_code must be a two-letter country code such as US")
        return value.upper()
    if name == "relevance_language":
        if not isinstance(value, str) or not _LANGUAGE.match(value):
            raise InvalidRequest("relevance_language must be a language code such as en or zh-Hans")
        return value
    if name == "published_within_days":
        return _whole(name, value, 1, MAX_WINDOW_DAYS)
    if name == "interval_hours":
        return _whole(name, value, 1, MAX_INTERVAL_HOURS)
    if name == "keywords_per_cycle":
        return _whole(name, value, 1, MAX_KEYWORDS)
    if name == "search_budget":
        return _whole(name, value, 1, MAX_CYCLE_SEARCH_BUDGET)
    raise InvalidRequest(f"unknown setting {_shown(name)!r}; known settings: {list(WATCHLIST_SETTINGS)}")


def clean_settings(values: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Every given setting checked; an unknown one is an error, not ignored."""
    if not isinstance(values, Mapping):
        raise InvalidRequest("options must be an object")
    unknown = sorted(_shown(str(k)) for k in values if k not in allowed)
    if unknown:
        raise InvalidRequest(f"unknown option(s) {unknown}; known options: {list(allowed)}")
    return {name: clean_setting(name, value) for name, value in values.items()}
