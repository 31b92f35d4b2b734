"""Parse and normalize one pasted channel input, following ``inputs.md`` rule by rule.

Pure: no network, no I/O, and :func:`parse_channel_input` never raises on any ``str`` (the worst
answer is ``invalid`` with a reason a person can read). :func:`plan_inputs` groups a list of inputs
into jobs by ``(kind, value)`` while keeping every original line.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qs, unquote, urlsplit

MAX_INPUT_LENGTH = 2048
"""Rule 10: longer inputs are invalid without being parsed."""

INVALID_KEY_LENGTH = 200
"""An invalid line's job is keyed by its trimmed text cut to this many characters."""


class InputKind(StrEnum):
    """What an input names; members compare equal to the plain strings (``InputKind.HANDLE == "handle"``)."""

    CHANNEL_ID = "channel_id"
    HANDLE = "handle"
    USERNAME = "username"
    CUSTOM_URL = "custom_url"
    VIDEO = "video"
    PLAYLIST = "playlist"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class ChannelInput:
    """One parsed input: ``value`` is ``""`` exactly when ``kind`` is invalid.

    ``reason`` says why an input is invalid, or that the reading was a guess (a bare word read as a
    handle); it is ``""`` otherwise.
    """

    kind: InputKind
    value: str = ""
    reason: str = ""

    @property
    def is_valid(self) -> bool:
        return self.kind is not InputKind.INVALID


# --------------------------------------------------------------------------------------------------
# The grammar's constants. Regexes are compiled once: the planner parses 100,000 lines in one go.

# Rule 8: ids are checked whole, with fullmatch, so 23- or 25-character ids never pass.
_CHANNEL_ID_RE = re.compile(r"UC[A-Za-z0-9_-]{22}")
# Rule 8 says 11 of [A-Za-z0-9_-] and nothing about the last character, so neither do we. The id may
# be followed by a separator that a careless paste left in the value (``v=ID?t=1``, ``/v/ID&hl=en``
# in old embed URLs), never by a 12th id character.
_VIDEO_ID_RE = re.compile(r"([A-Za-z0-9_-]{11})(?:[?&#;]|\Z)")
# Rule 6: the playlist prefixes that name a channel's own playlist (UUMO and the other uploads
# variants start with UU). Mixes (RD…), Liked (LL…) and Watch later (WL) belong to no channel.
_PLAYLIST_PREFIXES = ("PL", "UU", "UUMO", "OLAK5uy_", "RDCLAK5uy_")
_PLAYLIST_ID_RE = re.compile(r"(?:PL|UU|OLAK5uy_|RDCLAK5uy_)[A-Za-z0-9_-]{10,62}")
_ID_CHARS_RE = re.compile(r"[A-Za-z0-9_-]+")
# A bare string this close to a channel id's shape is a damaged id (rule 8), not a handle.
_NEAR_CHANNEL_ID_LENGTHS = range(20, 29)
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_WHITESPACE_RE = re.compile(r"\s")
# Invisible characters that spreadsheets and web pages leave at the ends of a pasted value.
_INVISIBLE_ENDS = "\ufeff\u200b\u2060"

# Rule 12: what spreadsheets, CSV exports and chat put around a value. One pair of quotes or angle
# brackets, trailing separators, or a lone <a href>; nothing inside the value is touched.
_PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "<": ">"}
_ARTEFACT_FIRST = frozenset(_PAIRS)
_ARTEFACT_LAST = frozenset(_PAIRS.values()) | frozenset(",;|")
_TRAILING_SEPARATORS_RE = re.compile(r"(?:\s*[,;|])+\s*\Z")
_ANCHOR_RE = re.compile(
    r"<a\s(?:[^>]*?\s)?href\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+))[^>]*>(?:(?!</?a[\s>]).)*</a\s*>",
    re.IGNORECASE | re.DOTALL,
)

# Rule 3: the accepted hosts, compared lowercased.
_SITE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
_SHORT_HOST = "youtu.be"
_EMBED_HOSTS = frozenset({"youtube-nocookie.com", "www.youtube-nocookie.com"})
_HOSTS = _SITE_HOSTS | _EMBED_HOSTS | {_SHORT_HOST}
# Longest first only for readability: any string beginning with one of them is a URL (rule 3), so
# ``youtube.com.evil.com`` is parsed as a URL, and its host then fails the check above.
_HOST_PREFIXES = tuple(sorted(_HOSTS, key=len, reverse=True))
_PORTS = (None, 80, 443)

# Handle characters besides Unicode letters, marks and digits (rule 7; youtube-api.md adds "·").
_HANDLE_PUNCTUATION = frozenset("_-.·")
_LATIN_MIN, _LATIN_MAX = 3, 30
# Fast paths for the all-ASCII case: the same character rules as the loops below. A name must hold
# a letter or a digit ("/." and "/.." are paths, not names).
_ASCII_HANDLE_RE = re.compile(r"[a-z0-9_.-]+")
_ASCII_NAME_RE = re.compile(r"(?=[_.-]*[A-Za-z0-9])[A-Za-z0-9_.-]+")

# A bare word ending in one of these is a web address, not a handle (rule 3: look-alikes).
_WEB_SUFFIXES = frozenset(
    {"com", "net", "org", "be", "io", "co", "tv", "me", "ly", "gl", "app", "dev", "info"}
)

# Rule 9: YouTube's own pages, in one list. A path's first segment is compared whole and lowercased,
# so a vanity name that only begins like one (/watchismo) goes through. The structural words
# (watch, channel, @, …) are listed too: each has its own handler, which falls back to this list's
# verdict when nothing follows it.
RESERVED_PATHS = frozenset(
    {
        # named by rule 9
        "feed",
        "results",
        "search",
        "hashtag",
        "account",
        "upload",
        "t",
        "about",
        "redirect",
        "post",
        "clip",
        "playlist",
        "watch",
        "shorts",
        "channel",
        "user",
        "c",
        "@",
        "embed",
        # the other structural paths this parser reads
        "v",
        "live",
        "attribution_link",
        "oembed",
        "browse",
        "feeds",
        "subscription_center",
        "profile",
        # other pages of the site that are not channels
        "account_advanced",
        "account_billing",
        "account_notifications",
        "account_playback",
        "account_privacy",
        "account_sharing",
        "channel_switcher",
        "create_channel",
        "howyoutubeworks",
        "iframe_api",
        "logout",
        "paid_memberships",
        "reporthistory",
        "signin",
        "supported_browsers",
    }
)

_VIDEO_PATHS = frozenset({"shorts", "live", "embed", "v"})
_CHANNEL_PATHS = frozenset({"channel", "user", "c"})
_NESTED_DEPTH = 3  # attribution_link / oembed wrap one URL in another; never follow more than this


def _invalid(reason: str) -> ChannelInput:
    return ChannelInput(InputKind.INVALID, "", reason)


def _short(text: str, limit: int = 40) -> str:
    """Quote a piece of the input in a reason without letting it run long."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------------
# Public API


def parse_channel_input(text: str, *, max_length: int = MAX_INPUT_LENGTH) -> ChannelInput:
    """Turn one pasted string into a kind and a normalized value, with no network call.

    Never raises: the grammar is written to answer every string, and the catch-all below only
    guarantees that a bug in it costs one input, not the run that pasted it.
    """
    try:
        if not isinstance(text, str):
            return _invalid("not text")
        if len(text) > max_length:
            return _invalid(f"too long ({len(text):,} characters; the limit is {max_length:,})")
        trimmed = text.strip()
        if trimmed and (trimmed[0] in _INVISIBLE_ENDS or trimmed[-1] in _INVISIBLE_ENDS):
            trimmed = trimmed.strip(_INVISIBLE_ENDS).strip()
        if trimmed and (trimmed[0] in _ARTEFACT_FIRST or trimmed[-1] in _ARTEFACT_LAST):
            trimmed, cleaned = clean_paste_artefacts(trimmed)
            if cleaned:
                result = _parse_trimmed(trimmed, 0)
                said = "; ".join([*cleaned, result.reason] if result.reason else cleaned)
                return ChannelInput(result.kind, result.value, said)
        return _parse_trimmed(trimmed, 0)
    except Exception:
        return _invalid("could not be read (an internal parser error; please report this input)")


def clean_paste_artefacts(text: str) -> tuple[str, list[str]]:
    """Rule 12: strip what a paste put around a trimmed value; returns it with what was removed, in words.

    A lone ``<a href="URL">…</a>`` gives its URL; then trailing ``,`` ``;`` ``|`` go, then one pair
    of surrounding quotes or angle brackets, then separators that were inside that pair. Quotes or
    separators *inside* the value are left for the rules to judge.
    """
    anchor = _ANCHOR_RE.fullmatch(text) if text[:2].lower() == "<a" else None
    if anchor:
        href = next(group for group in anchor.groups() if group is not None)
        return html.unescape(href).strip(), ["the link's address, read from an HTML <a href>"]
    said: list[str] = []
    text = _strip_separators(text, said)
    closing = _PAIRS.get(text[:1])
    if closing and len(text) >= 2 and text[-1] == closing:
        inner = text[1:-1]
        if closing != ">" or not ("<" in inner or ">" in inner):
            said.append("angle brackets removed" if closing == ">" else "quotes removed")
            text = _strip_separators(inner.strip(), said)
    return text, said


def _strip_separators(text: str, said: list[str]) -> str:
    stripped = _TRAILING_SEPARATORS_RE.sub("", text)
    if stripped != text and "trailing separator removed" not in said:
        said.append("trailing separator removed")
    return stripped


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")


def decode_input_file(data: bytes) -> str:
    """Rule 12: a file of inputs as text: UTF-8 with or without a BOM, UTF-16 when it starts with a UTF-16 BOM.

    Undecodable bytes become U+FFFD, so one bad byte costs one line, not the whole list.
    """
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16", errors="replace")  # the BOM says the byte order, and is dropped
    return data.decode("utf-8-sig", errors="replace")


def numbered_lines(text: str) -> tuple[list[str], list[int]]:
    """The non-blank lines of a file and their 1-based line numbers in it (blank lines skipped, still counted).

    Lines end at ``\n``, ``\r\n`` or ``\r``, as an editor counts them; the numbers are what ``plan``
    and a run's results both show.
    """
    texts: list[str] = []
    numbers: list[int] = []
    for number, line in enumerate(_LINE_BREAK_RE.split(text), start=1):
        if line and not line.isspace():
            texts.append(line)
            numbers.append(number)
    return texts, numbers


_CANONICAL_URLS: dict[str, str] = {  # keyed by InputKind, which hashes as its string
    InputKind.CHANNEL_ID: "https://www.youtube.com/channel/{}",
    InputKind.HANDLE: "https://www.youtube.com/@{}",
    InputKind.USERNAME: "https://www.youtube.com/user/{}",
    InputKind.CUSTOM_URL: "https://www.youtube.com/c/{}",
    InputKind.VIDEO: "https://www.youtube.com/watch?v={}",
    InputKind.PLAYLIST: "https://www.youtube.com/playlist?list={}",
}


def canonical_url(kind: str, value: str) -> str:
    """The one URL that names a parsed input; it parses back to the same kind and value.

    Handles and names keep their plain Unicode form, which the parser reads as written (a browser
    percent-encodes it when it sends it). Returns ``""`` for ``invalid`` or an unknown kind.
    """
    template = _CANONICAL_URLS.get(kind) if value else None
    return template.format(value) if template else ""


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One input line, in input order, pointing at the job (index into ``InputPlan.jobs``) it belongs to."""

    index: int
    text: str
    parsed: ChannelInput
    job_index: int


@dataclass(slots=True)
class PlannedJob:
    """One unique ``(kind, value)``: the unit of work, and every line (by index) that asked for it."""

    kind: InputKind
    value: str
    reason: str
    line_indexes: list[int] = field(default_factory=list)


@dataclass(slots=True)
class InputPlan:
    """The lines as given and the jobs they make, both in first-seen order."""

    lines: list[PlannedLine]
    jobs: list[PlannedJob]

    def jobs_by_kind(self) -> dict[str, int]:
        """Number of jobs of each kind, every kind listed (zeros included), in the enum's order."""
        counts = dict.fromkeys((kind.value for kind in InputKind), 0)
        for job in self.jobs:
            counts[job.kind.value] += 1
        return counts

    @property
    def duplicate_lines(self) -> int:
        """Lines whose job an earlier line already made."""
        return len(self.lines) - len(self.jobs)

    @property
    def invalid_lines(self) -> int:
        return sum(1 for line in self.lines if line.parsed.kind is InputKind.INVALID)


def plan_inputs(lines: Sequence[str], *, max_length: int = MAX_INPUT_LENGTH) -> InputPlan:
    """Parse every line and group them into jobs by ``(kind, value)``, keeping every line.

    Valid lines that normalize alike (``@MrBeast``, ``youtube.com/@MRBEAST``) share one job.
    Invalid lines keep ``value == ""`` on their :class:`ChannelInput`, but their job is keyed by the
    line's trimmed text cut to 200 characters (``PlannedJob.value``), so each distinct bad input is
    its own job that fails at once, and repeats of it share that job.
    """
    parsed_by_text: dict[str, ChannelInput] = {}  # pasted lists repeat themselves; parse each text once
    job_by_key: dict[tuple[InputKind, str], int] = {}
    planned: list[PlannedLine] = []
    jobs: list[PlannedJob] = []
    for index, text in enumerate(lines):
        cacheable = isinstance(text, str)
        parsed = parsed_by_text.get(text) if cacheable else None
        if parsed is None:
            parsed = parse_channel_input(text, max_length=max_length)
            if cacheable:
                parsed_by_text[text] = parsed
        if parsed.kind is InputKind.INVALID:
            key_value = text.strip()[:INVALID_KEY_LENGTH] if cacheable else repr(text)[:INVALID_KEY_LENGTH]
        else:
            key_value = parsed.value
        key = (parsed.kind, key_value)
        job_index = job_by_key.get(key)
        if job_index is None:
            job_index = job_by_key[key] = len(jobs)
            jobs.append(PlannedJob(parsed.kind, key_value, parsed.reason))
        jobs[job_index].line_indexes.append(index)
        planned.append(PlannedLine(index, text, parsed, job_index))
    return InputPlan(planned, jobs)


# --------------------------------------------------------------------------------------------------
# The grammar


def _parse_trimmed(s: str, depth: int) -> ChannelInput:
    """Rules 1–3 and 11 on a trimmed string: decide between URL, @handle, bare id and bare word."""
    if not s:
        return _invalid("empty")
    if _WHITESPACE_RE.search(s):
        return _invalid("whitespace inside the input (two values pasted together, or a split id?)")
    # Rule 3: a string that begins with an accepted host is a URL, never a bare word. The host must
    # be re-checked after parsing: "youtube.com.evil.com" begins with one and is not one.
    if s[:32].lower().startswith(_HOST_PREFIXES):
        return _parse_url("https://" + s, depth)
    if s.startswith("//"):
        return _parse_url("https:" + s, depth)
    if s[0] == "@":
        return _handle_result(s[1:], decode=True)
    scheme = _SCHEME_RE.match(s)
    if scheme:
        name = scheme.group()[:-1].lower()
        if name in ("http", "https"):
            return _parse_url(s, depth)
        return _invalid(f"the {name}: scheme is not a web address (only http and https are)")
    if s[0] == "/":
        return _invalid("a path without youtube.com in front of it")
    if _CHANNEL_ID_RE.fullmatch(s):
        return ChannelInput(InputKind.CHANNEL_ID, s)
    return _bare_word(s)


def _bare_word(s: str) -> ChannelInput:
    """Rule 11: a word that satisfies the handle rules is read as a handle, and the plan says so."""
    if s.startswith("UC") and len(s) in _NEAR_CHANNEL_ID_LENGTHS and _ID_CHARS_RE.fullmatch(s):
        return _invalid(f"looks like a channel id but has {len(s)} characters (a channel id has 24)")
    head = s.split("/", 1)[0].lower()
    if "." in head and (
        head.startswith("www.") or "youtu" in head or head.rsplit(".", 1)[1] in _WEB_SUFFIXES
    ):
        return _invalid(f"{_short(s)} is a web address that is not YouTube's")
    value, error = _check_handle(s, decode=True)
    if error:
        return _invalid(f"not a YouTube URL, @handle or channel id: {error}")
    return ChannelInput(InputKind.HANDLE, value, f"a bare word, read as the handle @{_short(value)}")


def _parse_url(url: str, depth: int) -> ChannelInput:
    """Rules 2–9 on a string known to be an http(s) URL (a scheme was added when it had none)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        if netloc in _HOSTS:  # the common case, without the cost of .hostname and .port
            host: str | None = netloc
            port: int | None = None
        else:
            host = parts.hostname
            port = parts.port
    except ValueError:
        return _invalid("not a well-formed URL")
    if "@" in netloc:
        # The userinfo trick: in https://www.youtube.com@evil.com/ the host is evil.com.
        return _invalid(
            f"the host of this URL is {_short(host or '?')}, not YouTube (the text before @ is a login)"
        )
    if not host:
        return _invalid("a URL without a host")
    if host.endswith("."):  # the fully qualified spelling "youtube.com." names the same host
        host = host[:-1]
    if host not in _HOSTS:
        return _invalid(f"{_short(host)} is not a YouTube address")
    if port not in _PORTS:
        return _invalid(f"unexpected port {port} on a YouTube address")
    segments: list[str] = []
    for raw in parts.path.split("/"):
        if not raw:
            continue  # "//" and a trailing "/" change nothing
        if "%" in raw:
            try:
                raw = unquote(raw, errors="strict")
            except UnicodeDecodeError:
                return _invalid("percent-encoding in the path is not valid UTF-8")
        segments.append(raw)
    query = parts.query
    if query and segments and (segments[0][0] == "@" or segments[0].lower() in _CHANNEL_PATHS):
        query = ""  # a channel page's query (?sub_confirmation=1) never matters: skip parsing it
    # "&amp;": URLs copied out of HTML source.
    params = parse_qs(query.replace("&amp;", "&")) if query else {}
    return _route(host, segments, params, parts.fragment, depth)


def _route(
    host: str, segs: list[str], params: dict[str, list[str]], fragment: str, depth: int
) -> ChannelInput:
    first = segs[0].lower() if segs else ""
    if host == _SHORT_HOST and first != "watch" and first not in _VIDEO_PATHS:
        # youtu.be/ID is the only form that site serves (rule 5).
        if not segs:
            return _invalid("a youtu.be link without a video id")
        video_id = _video_id(segs[0])
        if video_id:
            return ChannelInput(InputKind.VIDEO, video_id)
        return _invalid(
            f"youtu.be/{_short(segs[0], 20)} is not a video id (11 characters of A–Z a–z 0–9 _ -)"
        )

    # Video and playlist pages, on every accepted host (rules 5, 6).
    if first == "watch":
        return _watch(segs, params)
    if first in _VIDEO_PATHS:
        return _video_path(first, segs, params)
    if first == "playlist":
        video = _video_param(params)
        if video is not None:
            return video
        if "list" in params:
            return _playlist(params["list"][0])
        return _invalid("a playlist page without list=")
    if host in _EMBED_HOSTS:
        return _invalid(f"{host} only serves embedded videos and playlists")

    if not segs:
        return _home_page(host, params, fragment, depth)

    # Channel pages (rule 4): whatever follows the name (a tab, a query, a fragment) changes nothing.
    if first == "channel":
        if len(segs) < 2:
            return _invalid("/channel/ with nothing after it")
        return _channel_id(segs[1], "/channel/")
    if first in ("user", "c"):
        kind = InputKind.USERNAME if first == "user" else InputKind.CUSTOM_URL
        if len(segs) < 2:
            return _invalid(f"/{first}/ with nothing after it")
        return _name_result(segs[1], kind)
    if first[0] == "@":
        return _handle_result(segs[0][1:], decode=False)

    # Other URLs that carry a video or a channel inside them.
    if first in ("attribution_link", "oembed"):
        param = "u" if first == "attribution_link" else "url"
        return _nested(params, param, f"/{first}", depth)
    if first == "browse" and len(segs) > 1 and _CHANNEL_ID_RE.fullmatch(segs[1]):
        return ChannelInput(InputKind.CHANNEL_ID, segs[1])  # a YouTube Music artist page
    if first == "feeds":  # the RSS feed: feeds/videos.xml?channel_id=…
        if "channel_id" in params:
            return _channel_id(params["channel_id"][0], "channel_id=")
        if "playlist_id" in params:
            return _playlist(params["playlist_id"][0])
        if "user" in params:
            return _name_result(params["user"][0], InputKind.USERNAME)
    if first == "subscription_center" and "add_user" in params:
        return _name_result(params["add_user"][0], InputKind.USERNAME)
    if first == "profile" and "user" in params:
        return _name_result(params["user"][0], InputKind.USERNAME)

    if first in RESERVED_PATHS:
        return _invalid(f"/{_short(segs[0], 30)} is one of YouTube's own pages, not a channel")
    return _name_result(segs[0], InputKind.CUSTOM_URL)  # a legacy vanity URL: youtube.com/NAME


def _home_page(host: str, params: dict[str, list[str]], fragment: str, depth: int) -> ChannelInput:
    """The site root: invalid, unless it still carries a video or an old ``#/…`` route."""
    video = _video_param(params)
    if video is not None:
        return video
    route = fragment[1:] if fragment.startswith("!/") else fragment
    if route.startswith("/") and not route.startswith("//") and depth < _NESTED_DEPTH:
        # Old mobile and AJAX links: m.youtube.com/#/watch?v=ID
        return _parse_url(f"https://{host}{route}", depth + 1)
    return _invalid("the YouTube home page names no channel")


def _watch(segs: list[str], params: dict[str, list[str]]) -> ChannelInput:
    """``watch?v=`` is a video even with a list (rule 5); ``watch?list=`` alone is a playlist (rule 6)."""
    video = _video_param(params)
    if video is not None:
        return video
    if len(segs) > 1:  # watch/ID, produced by some share sheets
        video_id = _video_id(segs[1])
        if video_id:
            return ChannelInput(InputKind.VIDEO, video_id)
    if "list" in params:
        return _playlist(params["list"][0])
    return _invalid("a watch page without a video id (v=)")


def _video_path(first: str, segs: list[str], params: dict[str, list[str]]) -> ChannelInput:
    """``/shorts/ID``, ``/live/ID``, ``/v/ID``, ``/embed/ID`` and the embed forms that are not videos."""
    if len(segs) < 2:
        if first == "embed" and "list" in params:  # embed?listType=playlist&list=…
            return _playlist(params["list"][0])
        return _invalid(f"/{first}/ with nothing after it")
    sub = segs[1]
    if first == "embed":
        if sub.lower() == "videoseries":
            if "list" in params:
                return _playlist(params["list"][0])
            return _invalid("an embedded playlist without list=")
        if sub.lower() == "live_stream" and "channel" in params:
            return _channel_id(params["channel"][0], "channel=")
    video_id = _video_id(sub)
    if video_id:
        return ChannelInput(InputKind.VIDEO, video_id)
    return _invalid(f"/{first}/{_short(sub, 20)} is not a video id (11 characters of A–Z a–z 0–9 _ -)")


def _video_param(params: dict[str, list[str]]) -> ChannelInput | None:
    """The ``v=`` parameter: a video, an invalid input when it is malformed, ``None`` when absent."""
    values = params.get("v")
    if not values:
        return None
    video_id = _video_id(values[0])
    if video_id:
        return ChannelInput(InputKind.VIDEO, video_id)
    return _invalid(f"v={_short(values[0], 20)} is not a video id (11 characters of A–Z a–z 0–9 _ -)")


def _video_id(text: str) -> str:
    match = _VIDEO_ID_RE.match(text)
    return match.group(1) if match else ""


def _playlist(list_id: str) -> ChannelInput:
    if _PLAYLIST_ID_RE.fullmatch(list_id):
        return ChannelInput(InputKind.PLAYLIST, list_id)
    if list_id.startswith(("RD", "LL", "WL", "FL", "LM")):
        return _invalid(f"list={_short(list_id, 24)} is a mix or a personal list, owned by no channel")
    return _invalid(
        f"list={_short(list_id, 24)} is not a channel playlist id (PL…, UU…, OLAK5uy_…, RDCLAK5uy_…)"
    )


def _channel_id(candidate: str, where: str) -> ChannelInput:
    if _CHANNEL_ID_RE.fullmatch(candidate):
        return ChannelInput(InputKind.CHANNEL_ID, candidate)
    return _invalid(
        f"{where}{_short(candidate, 30)} is not a channel id "
        f"(UC + 22 characters of A–Z a–z 0–9 _ -, 24 in all; this has {len(candidate)})"
    )


def _nested(params: dict[str, list[str]], name: str, page: str, depth: int) -> ChannelInput:
    """``attribution_link?u=/watch%3Fv%3DID`` and ``oembed?url=<URL>``: parse the URL they carry."""
    values = params.get(name)
    if not values or depth >= _NESTED_DEPTH:
        return _invalid(f"{page} without a {name}= naming a video")
    inner = values[0]
    if inner.startswith("%"):  # encoded twice
        inner = unquote(inner)
    if inner.startswith("/") and not inner.startswith("//"):
        inner = "https://www.youtube.com" + inner
    result = _parse_trimmed(inner.strip(), depth + 1)
    if result.kind is InputKind.INVALID:
        return _invalid(f"{page} whose {name}= names nothing usable: {result.reason}")
    return result


# --------------------------------------------------------------------------------------------------
# Handles (rule 7) and names (rule 4)


def _handle_result(raw: str, *, decode: bool) -> ChannelInput:
    value, error = _check_handle(raw, decode=decode)
    if error:
        return _invalid(error)
    return ChannelInput(InputKind.HANDLE, value)


def _check_handle(raw: str, *, decode: bool) -> tuple[str, str]:
    """Return ``(handle, "")`` or ``("", reason)``.

    Percent-decode as UTF-8, lowercase with ``str.lower()``, then check the lowered form, so that the
    value always passes its own check (``"İ".lower()`` is two characters).
    """
    if decode and "%" in raw:
        try:
            raw = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return "", "the handle's percent-encoding is not valid UTF-8"
    if not raw:
        return "", "nothing after @"
    handle = raw.lower()
    if _ASCII_HANDLE_RE.fullmatch(handle):  # the common case, without a loop over the characters
        if _LATIN_MIN <= len(handle) <= _LATIN_MAX:
            return handle, ""
        return "", f"a handle has {_LATIN_MIN}–{_LATIN_MAX} characters; this one has {len(handle)}"
    latin_only = True
    for ch in handle:
        if ch < "\x80":
            if ch.isalnum() or ch in _HANDLE_PUNCTUATION:
                continue
            return "", f"{ch!r} is not allowed in a handle (only letters, digits, _ - . ·)"
        if ch in _HANDLE_PUNCTUATION:
            continue
        category = unicodedata.category(ch)
        if category[0] not in "LMN":
            return "", f"{ch!r} is not allowed in a handle (only letters, digits, _ - . ·)"
        if latin_only and _is_other_script(ch, category):
            latin_only = False
    # Rule 7: the 3–30 rule is for Latin handles only; other scripts have their own limits.
    if latin_only and not _LATIN_MIN <= len(handle) <= _LATIN_MAX:
        return "", f"a handle has {_LATIN_MIN}–{_LATIN_MAX} characters; this one has {len(handle)}"
    return handle, ""


def _is_other_script(ch: str, category: str) -> bool:
    """True for a letter, mark or digit that belongs to a script other than Latin.

    Unicode names carry the script (``LATIN SMALL LETTER E WITH ACUTE``, ``CJK UNIFIED IDEOGRAPH-…``,
    ``ARABIC-INDIC DIGIT THREE``); combining diacritics and plain numerals belong to no script.
    """
    name = unicodedata.name(ch, "")
    if category[0] == "L":
        return "LATIN" not in name
    if category[0] == "M":
        return not name.startswith("COMBINING")
    return category == "Nd" and not name.startswith(("FULLWIDTH", "MATHEMATICAL"))


def _name_result(name: str, kind: InputKind) -> ChannelInput:
    """A ``/user/NAME``, ``/c/NAME`` or ``/NAME``: kept exactly as written (case included), once decoded."""
    if _ASCII_NAME_RE.fullmatch(name):
        return ChannelInput(kind, name)
    label = {InputKind.USERNAME: "username", InputKind.CUSTOM_URL: "custom URL name"}[kind]
    for ch in name:
        if ch < "\x80":
            if ch.isalnum() or ch in _HANDLE_PUNCTUATION:
                continue
        elif ch in _HANDLE_PUNCTUATION or unicodedata.category(ch)[0] in "LMN":
            continue
        return _invalid(f"{ch!r} is not allowed in a {label} ({_short(name, 30)})")
    if not any(ch.isalnum() for ch in name):  # "/." or "/.." is a path, not a name
        return _invalid(f"{_short(name, 30)} is not a {label}")
    return ChannelInput(kind, name)
