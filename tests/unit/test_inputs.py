"""The channel-input normalizer, rule by rule of ``inputs.md``, plus deduplication and the quota plan."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.inputs import (
    MAX_INPUT_LENGTH,
    RESERVED_PATHS,
    ChannelInput,
    InputKind,
    canonical_url,
    decode_input_file,
    numbered_lines,
    parse_channel_input,
    plan_inputs,
)
from pipeline.quota_plan import minimum_quota

CID = "UCX6OQ3DkcsbYNE6H8uQQuVA"  # a real channel id (MrBeast)
CID2 = "UC_x5XG1OV2P6uZZ5FSM9Ttw"  # another, with _ in it (Google for Developers)
VID = "dQw4w9WgXcQ"
VID2 = "-_AbC123xyZ"  # all four kinds of id character
PL = "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
UU = "UUX6OQ3DkcsbYNE6H8uQQuVA"
UUMO = "UUMOX6OQ3DkcsbYNE6H8uQQuVA"
OLAK = "OLAK5uy_kU4hTOo1cBh6iF2H5Xk1Hc1rtFb-e82g0"
RDCLAK = "RDCLAK5uy_kmPRjHDECIcuVwnKsx2Ng7fyNgFKWNJFs"

CHANNEL_ID = InputKind.CHANNEL_ID
HANDLE = InputKind.HANDLE
USERNAME = InputKind.USERNAME
CUSTOM = InputKind.CUSTOM_URL
VIDEO = InputKind.VIDEO
PLAYLIST = InputKind.PLAYLIST
INVALID = InputKind.INVALID


def check(text: str, kind: InputKind, value: str) -> ChannelInput:
    """Parse ``text`` and assert its kind and value (value ignored for invalid, which must give a reason)."""
    parsed = parse_channel_input(text)
    assert (parsed.kind, parsed.value) == (kind, value if kind is not INVALID else ""), (text, parsed)
    if kind is INVALID:
        assert parsed.reason, f"an invalid input needs a reason: {text!r}"
    return parsed


# --------------------------------------------------------------------------------------------------
# Rule 1: whitespace


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("  @MrBeast  ", HANDLE, "mrbeast"),
        ("\t@MrBeast\t", HANDLE, "mrbeast"),
        ("@MrBeast\n", HANDLE, "mrbeast"),
        ("\r\n https://www.youtube.com/@MrBeast \r\n", HANDLE, "mrbeast"),
        (f"\u00a0{CID}\u00a0", CHANNEL_ID, CID),  # no-break spaces from a web page
        (f"\ufeff{CID}", CHANNEL_ID, CID),  # a byte-order mark from a spreadsheet export
        (f" https://youtu.be/{VID} ", VIDEO, VID),
        ("@Mr Beast", INVALID, ""),
        ("@MrBeast @PewDiePie", INVALID, ""),
        (f"{CID} {CID2}", INVALID, ""),
        ("https://www.youtube.com/@MrBeast https://www.youtube.com/@PewDiePie", INVALID, ""),
        ("UCX6OQ3Dkcs bYNE6H8uQQuVA", INVALID, ""),  # a split id
        ("UCX6OQ3Dkcs\nbYNE6H8uQQuVA", INVALID, ""),
        ("https://www.youtube.com/@Mr\tBeast", INVALID, ""),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ &t=1", INVALID, ""),
        ("Mr\u00a0Beast", INVALID, ""),
        ("Mr\u3000Beast", INVALID, ""),  # ideographic space
        ("", INVALID, ""),
        ("   ", INVALID, ""),
        ("\t\n", INVALID, ""),
    ],
)
def test_rule_1_whitespace(text: str, kind: InputKind, value: str) -> None:
    """Given whitespace around or inside an input, when parsed, then the ends are trimmed and whitespace inside makes it invalid."""
    check(text, kind, value)


# --------------------------------------------------------------------------------------------------
# Rule 2: schemes


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("https://www.youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("http://www.youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("HTTPS://WWW.YOUTUBE.COM/@MRBEAST", HANDLE, "mrbeast"),
        ("HTTP://youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("hTtPs://youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("www.youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("m.youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("music.youtube.com/channel/" + CID, CHANNEL_ID, CID),
        (f"youtu.be/{VID}", VIDEO, VID),
        ("//www.youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("//youtube.com/channel/" + CID, CHANNEL_ID, CID),
        ("javascript:alert(1)", INVALID, ""),
        ("javascript://www.youtube.com/@MrBeast", INVALID, ""),
        ("JavaScript:window.location='https://www.youtube.com/@MrBeast'", INVALID, ""),
        ("data:text/html,<a href=https://www.youtube.com/@MrBeast>", INVALID, ""),
        ("data:text/plain;base64,QE1yQmVhc3Q=", INVALID, ""),
        ("file:///home/me/channels.txt", INVALID, ""),
        ("file://www.youtube.com/@MrBeast", INVALID, ""),
        ("ftp://www.youtube.com/@MrBeast", INVALID, ""),
        ("ws://www.youtube.com/@MrBeast", INVALID, ""),
        ("vnd.youtube:dQw4w9WgXcQ", INVALID, ""),
        ("youtube://www.youtube.com/@MrBeast", INVALID, ""),
        ("mailto:someone@youtube.com", INVALID, ""),
        ("intent://www.youtube.com/@MrBeast#Intent;scheme=https;end", INVALID, ""),
        ("https:www.youtube.com/@MrBeast", INVALID, ""),  # no "//": no host
        ("https:///@MrBeast", INVALID, ""),
    ],
)
def test_rule_2_schemes(text: str, kind: InputKind, value: str) -> None:
    """Given an input with http(s) in any case, no scheme or another scheme, when parsed, then only http(s) and scheme-less forms are read."""
    check(text, kind, value)


# --------------------------------------------------------------------------------------------------
# Rule 3: hosts


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (f"https://youtube.com/channel/{CID}", CHANNEL_ID, CID),
        (f"https://www.youtube.com/channel/{CID}", CHANNEL_ID, CID),
        (f"https://m.youtube.com/channel/{CID}", CHANNEL_ID, CID),
        (f"https://music.youtube.com/channel/{CID}", CHANNEL_ID, CID),
        (f"https://WWW.YouTube.COM/channel/{CID}", CHANNEL_ID, CID),
        (f"https://M.YOUTUBE.COM/watch?v={VID}", VIDEO, VID),
        (f"https://YOUTU.BE/{VID}", VIDEO, VID),
        (f"https://www.youtube-nocookie.com/embed/{VID}", VIDEO, VID),
        (f"https://youtube-nocookie.com/embed/{VID}", VIDEO, VID),
        (f"https://www.youtube.com:443/channel/{CID}", CHANNEL_ID, CID),
        (f"https://www.youtube.com./channel/{CID}", CHANNEL_ID, CID),  # the fully qualified name
        ("YouTube.com/@MrBeast", HANDLE, "mrbeast"),
        # look-alikes and foreign hosts
        ("youtube.com.evil.com/@MrBeast", INVALID, ""),
        ("https://youtube.com.evil.com/@MrBeast", INVALID, ""),
        ("https://www.youtube.com.evil.com/channel/" + CID, INVALID, ""),
        ("youtu.be.evil.com/" + VID, INVALID, ""),
        ("https://evilyoutube.com/@MrBeast", INVALID, ""),
        ("evilyoutube.com/@MrBeast", INVALID, ""),
        ("evilyoutube.com", INVALID, ""),
        ("youtube.community/@MrBeast", INVALID, ""),
        ("https://notyoutube.com/@MrBeast", INVALID, ""),
        ("https://www.youtube.co/@MrBeast", INVALID, ""),
        ("https://www.youtube.co.uk/@MrBeast", INVALID, ""),
        ("https://youtube.de/@MrBeast", INVALID, ""),
        ("https://gaming.youtube.com/@MrBeast", INVALID, ""),
        ("https://studio.youtube.com/channel/" + CID, INVALID, ""),
        ("https://www.youtu.be/" + VID, INVALID, ""),
        ("https://www.google.com/url?q=https://www.youtube.com/@MrBeast", INVALID, ""),
        ("https://ｙoutube.com/@MrBeast", INVALID, ""),  # a fullwidth letter
        ("https://youtube.com:8080/@MrBeast", INVALID, ""),
        ("https://[::1]/@MrBeast", INVALID, ""),
        ("https://[youtube.com/@MrBeast", INVALID, ""),
        ("www.evil.com/@MrBeast", INVALID, ""),
        ("google.com", INVALID, ""),
        # the userinfo trick: the host is what follows the @
        ("https://www.youtube.com@evil.com/@MrBeast", INVALID, ""),
        ("https://www.youtube.com@evil.com/channel/" + CID, INVALID, ""),
        ("www.youtube.com@evil.com/watch?v=" + VID, INVALID, ""),
        ("https://youtube.com:443@evil.com/@MrBeast", INVALID, ""),
        ("https://user:pass@www.youtube.com/@MrBeast", INVALID, ""),
        ("//www.youtube.com@evil.com/@MrBeast", INVALID, ""),
    ],
)
def test_rule_3_hosts(text: str, kind: InputKind, value: str) -> None:
    """Given accepted hosts in any case and look-alike or userinfo-tricked hosts, when parsed, then only the accepted hosts are read."""
    check(text, kind, value)


@pytest.mark.parametrize("host", ["youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"])
def test_rule_3_a_bare_host_is_a_url_never_a_word(host: str) -> None:
    """Given a string that is just an accepted host, when parsed, then it is read as the site root (invalid), not as a handle."""
    check(host, INVALID, "")
    check(host.upper(), INVALID, "")


# --------------------------------------------------------------------------------------------------
# Rule 4: channel paths and what follows them

TABS = [
    "",
    "/",
    "/videos",
    "/featured",
    "/about",
    "/shorts",
    "/streams",
    "/live",
    "/playlists",
    "/community",
    "/channels",
    "/podcasts",
    "/releases",
    "/store",
    "/search?query=cats",
    "/some-unknown-tab",
    "/videos?view=0&sort=p&flow=grid",
    "?sub_confirmation=1",
    "/?sub_confirmation=1",
    "/videos?sub_confirmation=1",
    "#comments",
    "/about#details",
    "?si=AbCdEf123",
    "?feature=shared",
    "?app=desktop",
    "//",
]


@pytest.mark.parametrize("tab", TABS)
@pytest.mark.parametrize(
    ("path", "kind", "value"),
    [
        (f"/channel/{CID}", CHANNEL_ID, CID),
        ("/@MrBeast", HANDLE, "mrbeast"),
        ("/user/PewDiePie", USERNAME, "PewDiePie"),
        ("/c/MrBeast6000", CUSTOM, "MrBeast6000"),
        ("/MrBeast6000", CUSTOM, "MrBeast6000"),
    ],
)
@pytest.mark.parametrize(
    "prefix", ["https://www.youtube.com", "youtube.com", "m.youtube.com", "http://music.youtube.com"]
)
def test_rule_4_channel_paths_ignore_what_follows(
    prefix: str, path: str, kind: InputKind, value: str, tab: str
) -> None:
    """Given a channel path followed by a tab, query or fragment, when parsed, then the result is the channel alone."""
    check(prefix + path + tab, kind, value)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (f"https://www.youtube.com/channel/{CID}/live", CHANNEL_ID, CID),
        (f"https://www.youtube.com/channel/{CID2}/videos", CHANNEL_ID, CID2),
        ("https://www.youtube.com/@MrBeast/live", HANDLE, "mrbeast"),
        ("https://www.youtube.com/user/PewDiePie", USERNAME, "PewDiePie"),
        ("https://www.youtube.com/user/pewdiepie", USERNAME, "pewdiepie"),  # exactly as written
        ("https://www.youtube.com/c/MrBeast6000", CUSTOM, "MrBeast6000"),
        ("https://www.youtube.com/c/mrbeast6000", CUSTOM, "mrbeast6000"),
        ("https://www.youtube.com/Google", CUSTOM, "Google"),
        ("https://www.youtube.com/CHANNEL/" + CID, CHANNEL_ID, CID),  # path words in any case
        ("https://www.youtube.com/User/PewDiePie", USERNAME, "PewDiePie"),
        ("https://www.youtube.com/C/MrBeast6000", CUSTOM, "MrBeast6000"),
        ("https://www.youtube.com//channel//" + CID, CHANNEL_ID, CID),
        ("https://www.youtube.com/c/%E3%81%82%E3%81%84", CUSTOM, "あい"),
        ("https://www.youtube.com/c/Café", CUSTOM, "Café"),
        ("https://www.youtube.com/%40MrBeast", HANDLE, "mrbeast"),  # an encoded @
        ("https://music.youtube.com/browse/" + CID, CHANNEL_ID, CID),  # a YouTube Music artist page
        (f"https://www.youtube.com/feeds/videos.xml?channel_id={CID}", CHANNEL_ID, CID),
        ("https://www.youtube.com/feeds/videos.xml?user=PewDiePie", USERNAME, "PewDiePie"),
        (f"https://www.youtube.com/embed/live_stream?channel={CID}", CHANNEL_ID, CID),
        ("https://www.youtube.com/subscription_center?add_user=PewDiePie", USERNAME, "PewDiePie"),
        ("https://www.youtube.com/c/Mr%2FBeast", INVALID, ""),  # an encoded / is not part of a name
        ("https://www.youtube.com/c/Mr!Beast", INVALID, ""),
        ("https://www.youtube.com/user/%FF%FE", INVALID, ""),  # not UTF-8
        ("https://www.youtube.com/..", INVALID, ""),
        ("https://music.youtube.com/browse/MPREb_abcdefghijk", INVALID, ""),  # an album
        ("https://www.youtube.com-nocookie.com/@MrBeast", INVALID, ""),
        ("https://www.youtube-nocookie.com/@MrBeast", INVALID, ""),  # that host serves embeds only
        ("https://www.youtube-nocookie.com/channel/" + CID, INVALID, ""),
    ],
)
def test_rule_4_channel_path_forms(text: str, kind: InputKind, value: str) -> None:
    """Given each channel path form, when parsed, then kind and value follow the path, names kept as written."""
    check(text, kind, value)


# --------------------------------------------------------------------------------------------------
# Rule 5: videos, and a video id beats a list

VIDEO_FORMS = [
    f"https://www.youtube.com/watch?v={VID}",
    f"https://youtube.com/watch?v={VID}",
    f"https://m.youtube.com/watch?v={VID}",
    f"https://music.youtube.com/watch?v={VID}",
    f"www.youtube.com/watch?v={VID}",
    f"youtube.com/watch?v={VID}",
    f"https://www.youtube.com/watch?v={VID}&t=42s",
    f"https://www.youtube.com/watch?v={VID}#t=1m30s",
    f"https://www.youtube.com/watch?v={VID}&feature=share",
    f"https://www.youtube.com/watch?v={VID}&feature=youtu.be&si=AbCdEfGh12345678",
    f"https://www.youtube.com/watch?feature=player_embedded&v={VID}",
    f"https://www.youtube.com/watch?app=desktop&v={VID}",
    f"https://www.youtube.com/watch?v={VID}&list={PL}",
    f"https://www.youtube.com/watch?v={VID}&list={PL}&index=3",
    f"https://www.youtube.com/watch?list={PL}&v={VID}",
    f"https://www.youtube.com/watch?v={VID}&list=RDdQw4w9WgXcQ&start_radio=1",
    f"https://www.youtube.com/watch?v={VID}&amp;list={PL}",
    f"https://www.youtube.com/watch?v={VID}?t=10",  # a second "?" pasted by hand
    f"https://music.youtube.com/watch?v={VID}&list={OLAK}",
    f"https://youtu.be/{VID}",
    f"http://youtu.be/{VID}",
    f"youtu.be/{VID}",
    f"https://youtu.be/{VID}?si=AbCdEfGh12345678",
    f"https://youtu.be/{VID}?t=42",
    f"https://youtu.be/{VID}?list={PL}",
    f"https://youtu.be/{VID}/",
    f"https://youtu.be/{VID}#t=30",
    f"https://www.youtube.com/shorts/{VID}",
    f"https://youtube.com/shorts/{VID}?feature=share",
    f"https://www.youtube.com/shorts/{VID}?si=AbCdEfGh12345678",
    f"https://m.youtube.com/shorts/{VID}",
    f"https://www.youtube.com/live/{VID}",
    f"https://www.youtube.com/live/{VID}?si=AbCdEfGh12345678&t=3",
    f"https://www.youtube.com/live/{VID}?feature=share",
    f"https://www.youtube.com/embed/{VID}",
    f"https://www.youtube.com/embed/{VID}?autoplay=1&rel=0",
    f"https://www.youtube.com/embed/{VID}?list={PL}",
    f"https://www.youtube.com/embed/{VID}?start=30&end=60",
    f"https://www.youtube-nocookie.com/embed/{VID}",
    f"https://www.youtube-nocookie.com/embed/{VID}?rel=0&list={PL}",
    f"https://youtube-nocookie.com/embed/{VID}",
    f"https://www.youtube-nocookie.com/watch?v={VID}",
    f"https://www.youtube.com/v/{VID}",
    f"https://www.youtube.com/v/{VID}?version=3&hl=en_US",
    f"https://www.youtube.com/v/{VID}&hl=en_US&fs=1",  # old Flash embeds put & in the path
    f"https://www.youtube-nocookie.com/v/{VID}",
    f"https://www.youtube.com/attribution_link?a=AbCdEf&u=%2Fwatch%3Fv%3D{VID}%26feature%3Dshare",
    f"https://www.youtube.com/attribution_link?a=AbCdEf&u=/watch%3Fv%3D{VID}%26feature%3Dshare",
    f"https://www.youtube.com/attribution_link?a=AbCdEf&u=/watch?v={VID}&feature=share",
    f"https://www.youtube.com/attribution_link?u=%252Fwatch%253Fv%253D{VID}",  # encoded twice
    f"https://www.youtube.com/oembed?url=https%3A//www.youtube.com/watch%3Fv%3D{VID}&format=json",
    f"https://www.youtube.com/oembed?url=https://youtu.be/{VID}&format=json",
    f"https://www.youtube.com/oembed?format=json&url=https%3A%2F%2Fwww.youtube.com%2Fshorts%2F{VID}",
    f"https://m.youtube.com/#/watch?v={VID}",
    f"https://www.youtube.com/#!/watch?v={VID}",
    f"https://www.youtube.com/watch/{VID}",
    f"https://youtu.be/watch?v={VID}",
    f"HTTPS://YOUTU.BE/{VID}",
]


@pytest.mark.parametrize("text", VIDEO_FORMS)
def test_rule_5_video_forms(text: str) -> None:
    """Given a video URL in any of its forms, with a list or extra parameters, when parsed, then it is that video."""
    check(text, VIDEO, VID)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (f"https://www.youtube.com/watch?v={VID2}", VIDEO, VID2),
        (f"https://youtu.be/{VID2}", VIDEO, VID2),
        ("https://youtu.be/abcdefghijZ", VIDEO, "abcdefghijZ"),  # any last character (rule 8)
        ("https://youtu.be/", INVALID, ""),
        ("https://youtu.be", INVALID, ""),
        ("https://youtu.be/@MrBeast", INVALID, ""),
        ("https://youtu.be/channel/" + CID, INVALID, ""),
        ("https://www.youtube.com/attribution_link?a=AbCdEf", INVALID, ""),
        ("https://www.youtube.com/attribution_link?u=https://evil.com/watch?v=" + VID, INVALID, ""),
        ("https://www.youtube.com/oembed?format=json", INVALID, ""),
        ("https://www.youtube.com/oembed?url=javascript:alert(1)", INVALID, ""),
        ("https://www.youtube.com/watch?v=", INVALID, ""),
        (f"https://www.youtube.com/watch?v=+{VID}", INVALID, ""),
    ],
)
def test_rule_5_video_edges(text: str, kind: InputKind, value: str) -> None:
    """Given odd video forms, when parsed, then the id is taken whole or the input is invalid with a reason."""
    check(text, kind, value)


# --------------------------------------------------------------------------------------------------
# Rule 6: playlists, only when no video id is present


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (f"https://www.youtube.com/playlist?list={PL}", PLAYLIST, PL),
        (f"youtube.com/playlist?list={PL}", PLAYLIST, PL),
        (f"https://m.youtube.com/playlist?list={PL}&si=AbCdEf", PLAYLIST, PL),
        (f"https://www.youtube.com/playlist?list={UU}", PLAYLIST, UU),
        (f"https://www.youtube.com/playlist?list={UUMO}", PLAYLIST, UUMO),
        (f"https://music.youtube.com/playlist?list={OLAK}", PLAYLIST, OLAK),
        (f"https://music.youtube.com/playlist?list={RDCLAK}", PLAYLIST, RDCLAK),
        ("https://www.youtube.com/playlist?list=PL0123456789ABCDEF", PLAYLIST, "PL0123456789ABCDEF"),
        (f"https://www.youtube.com/watch?list={PL}", PLAYLIST, PL),
        (f"https://www.youtube.com/watch?list={PL}&index=2", PLAYLIST, PL),
        (f"https://www.youtube.com/watch?v=&list={PL}", PLAYLIST, PL),  # an empty v names no video
        (f"https://www.youtube.com/embed/videoseries?list={PL}", PLAYLIST, PL),
        (f"https://www.youtube-nocookie.com/embed/videoseries?list={PL}", PLAYLIST, PL),
        (f"https://www.youtube.com/embed?listType=playlist&list={PL}", PLAYLIST, PL),
        (f"https://www.youtube.com/feeds/videos.xml?playlist_id={PL}", PLAYLIST, PL),
        (f"https://www.youtube.com/playlist?list={PL}#top", PLAYLIST, PL),
        # a video beats a list
        (f"https://www.youtube.com/playlist?list={PL}&v={VID}", VIDEO, VID),
        (f"https://www.youtube.com/embed/videoseries?list={PL}&v={VID}", PLAYLIST, PL),
        # not a channel's playlist
        ("https://www.youtube.com/playlist?list=WL", INVALID, ""),
        ("https://www.youtube.com/playlist?list=LL", INVALID, ""),
        ("https://www.youtube.com/watch?list=RDdQw4w9WgXcQ", INVALID, ""),  # a mix
        ("https://www.youtube.com/playlist?list=FLX6OQ3DkcsbYNE6H8uQQuVA", INVALID, ""),
        ("https://www.youtube.com/playlist?list=XYZ0123456789abcdef", INVALID, ""),
        ("https://www.youtube.com/playlist?list=pl0123456789abcdef", INVALID, ""),
        ("https://www.youtube.com/playlist?list=PL", INVALID, ""),
        ("https://www.youtube.com/playlist?list=PL0123!456789abcdef", INVALID, ""),
        ("https://www.youtube.com/embed/videoseries", INVALID, ""),
    ],
)
def test_rule_6_playlists(text: str, kind: InputKind, value: str) -> None:
    """Given playlist URLs with and without a video, when parsed, then a list counts only without a video and with a channel playlist prefix."""
    check(text, kind, value)


# --------------------------------------------------------------------------------------------------
# Rule 7: handles


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("@MrBeast", HANDLE, "mrbeast"),
        ("@mrbeast", HANDLE, "mrbeast"),
        ("@MRBEAST", HANDLE, "mrbeast"),
        ("@mr.beast", HANDLE, "mr.beast"),
        ("@mr_beast-2", HANDLE, "mr_beast-2"),
        ("@a·b", HANDLE, "a·b"),
        ("@abc", HANDLE, "abc"),
        ("@" + "a" * 30, HANDLE, "a" * 30),
        ("@123", HANDLE, "123"),
        ("@Café", HANDLE, "café"),
        ("@ÉCOLE", HANDLE, "école"),
        ("@Straße", HANDLE, "straße"),
        ("@あ", HANDLE, "あ"),  # other scripts: no Latin length rule
        ("@東京", HANDLE, "東京"),
        ("@한국어채널", HANDLE, "한국어채널"),
        ("@Привет", HANDLE, "привет"),
        ("@ΑΘΗΝΑ", HANDLE, "αθηνα"),
        ("@السلام", HANDLE, "السلام"),
        ("@हिन्दी", HANDLE, "हिन्दी"),  # combining vowel signs (category M)
        ("@" + "あ" * 40, HANDLE, "あ" * 40),
        ("@tokyo東京", HANDLE, "tokyo東京"),
        ("@%E3%81%82", HANDLE, "あ"),
        ("@%e3%81%82", HANDLE, "あ"),
        ("https://www.youtube.com/@%E3%81%82%E3%81%84", HANDLE, "あい"),
        ("https://www.youtube.com/@%e3%81%82%e3%81%84", HANDLE, "あい"),
        ("https://www.youtube.com/@あい", HANDLE, "あい"),
        ("https://www.youtube.com/@%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82", HANDLE, "привет"),
        ("https://www.youtube.com/@Caf%C3%A9", HANDLE, "café"),
        ("https://www.youtube.com/@MrBeast", HANDLE, "mrbeast"),
        ("https://www.youtube.com/@mr.beast/videos", HANDLE, "mr.beast"),
        # invalid handles
        ("@ab", INVALID, ""),
        ("@a", INVALID, ""),
        ("@", INVALID, ""),
        ("@" + "a" * 31, INVALID, ""),
        ("@Café" + "x" * 27, INVALID, ""),  # Latin with an accent is still Latin: 32 characters
        ("@mr!beast", INVALID, ""),
        ("@mrbeast!", INVALID, ""),
        ("@mr beast", INVALID, ""),
        ("@mr%20beast", INVALID, ""),
        ("@@mrbeast", INVALID, ""),
        ("@mr@beast", INVALID, ""),
        ("@😀😀😀", INVALID, ""),
        ("@mrbeast😀", INVALID, ""),
        ("@mr+beast", INVALID, ""),
        ("@mr/beast", INVALID, ""),
        ("@mr#beast", INVALID, ""),
        ("@mr'beast", INVALID, ""),
        ("@%FF%FE", INVALID, ""),  # not UTF-8
        ("@%E3%81", INVALID, ""),  # a cut UTF-8 sequence
        ("https://www.youtube.com/@", INVALID, ""),
        ("https://www.youtube.com/@ab", INVALID, ""),
        ("https://www.youtube.com/@" + "b" * 31, INVALID, ""),
        ("https://www.youtube.com/@@mrbeast", INVALID, ""),
        ("https://www.youtube.com/@mr%21beast", INVALID, ""),
        ("https://www.youtube.com/@%F0%9F%98%80abc", INVALID, ""),  # an encoded emoji
    ],
)
def test_rule_7_handles(text: str, kind: InputKind, value: str) -> None:
    """Given handles in every script, encoded or not, when parsed, then they are decoded, lowercased and checked for characters and Latin length."""
    check(text, kind, value)


# --------------------------------------------------------------------------------------------------
# Rule 8: ids


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (CID, CHANNEL_ID, CID),
        (CID2, CHANNEL_ID, CID2),
        ("UC-lHJZR3Gqxm24_Vd_AJ5Yw", CHANNEL_ID, "UC-lHJZR3Gqxm24_Vd_AJ5Yw"),
        (f"https://www.youtube.com/channel/{CID}", CHANNEL_ID, CID),
        # 23 and 25 characters, bare and in a URL
        (CID[:-1], INVALID, ""),
        (CID + "A", INVALID, ""),
        (CID[:-3], INVALID, ""),
        (f"https://www.youtube.com/channel/{CID[:-1]}", INVALID, ""),
        (f"https://www.youtube.com/channel/{CID}A", INVALID, ""),
        (f"https://www.youtube.com/channel/{CID[:-1]}/videos", INVALID, ""),
        ("https://www.youtube.com/channel/uc" + CID[2:], INVALID, ""),  # case kept: not UC
        ("https://www.youtube.com/channel/HC" + CID[2:], INVALID, ""),
        ("https://www.youtube.com/channel/UCX6OQ3DkcsbYNE6H8uQQu!A", INVALID, ""),
        ("https://www.youtube.com/channel/MrBeast", INVALID, ""),
        # videos: exactly 11
        (f"https://www.youtube.com/watch?v={VID[:-1]}", INVALID, ""),
        (f"https://www.youtube.com/watch?v={VID}X", INVALID, ""),
        (f"https://youtu.be/{VID[:-1]}", INVALID, ""),
        (f"https://youtu.be/{VID}X", INVALID, ""),
        (f"https://www.youtube.com/shorts/{VID[:-1]}", INVALID, ""),
        (f"https://www.youtube.com/shorts/{VID}XY", INVALID, ""),
        (f"https://www.youtube.com/live/{VID[:-2]}", INVALID, ""),
        (f"https://www.youtube.com/embed/{VID}123", INVALID, ""),
        ("https://www.youtube.com/watch?v=dQw4w9WgXc!", INVALID, ""),
        ("https://www.youtube.com/watch?v=dQw4w9WgXc%20", INVALID, ""),
        (f"https://www.youtube.com/v/{VID[:-1]}", INVALID, ""),
    ],
)
def test_rule_8_ids(text: str, kind: InputKind, value: str) -> None:
    """Given channel and video ids of the right and wrong lengths, bare or in URLs, when parsed, then only exact ids are accepted."""
    check(text, kind, value)


# --------------------------------------------------------------------------------------------------
# Rule 9: YouTube's own pages

RULE_9_PAGES = [
    "https://www.youtube.com/",
    "https://www.youtube.com",
    "youtube.com",
    "https://m.youtube.com/",
    "https://music.youtube.com/",
    "https://www.youtube.com/?hl=en",
    "https://www.youtube.com/?app=desktop",
    "https://www.youtube.com/?persist_gl=1",
    "https://www.youtube.com/?hl=fr&persist_gl=1&app=desktop",
    "https://www.youtube.com/?gl=US",
    "https://www.youtube.com/#",
    "https://www.youtube.com/feed/subscriptions",
    "https://www.youtube.com/feed/trending",
    "https://www.youtube.com/feed/history",
    "https://www.youtube.com/feed",
    "https://www.youtube.com/results?search_query=mrbeast",
    "https://www.youtube.com/results",
    "https://www.youtube.com/search?q=mrbeast",
    "https://www.youtube.com/hashtag/shorts",
    "https://www.youtube.com/hashtag",
    "https://www.youtube.com/account",
    "https://www.youtube.com/account_notifications",
    "https://www.youtube.com/upload",
    "https://www.youtube.com/t/terms",
    "https://www.youtube.com/t/privacy",
    "https://www.youtube.com/about",
    "https://www.youtube.com/about/press/",
    "https://www.youtube.com/redirect?q=https://example.com",
    "https://www.youtube.com/post/UgkxAbCdEfGhIjKlMnOp",
    "https://www.youtube.com/clip/UgkxAbCdEfGhIjKlMnOp",
    "https://www.youtube.com/playlist",
    "https://www.youtube.com/playlist?index=2",
    "https://www.youtube.com/watch",
    "https://www.youtube.com/watch?t=10",
    "https://www.youtube.com/shorts/",
    "https://www.youtube.com/shorts",
    "https://www.youtube.com/channel/",
    "https://www.youtube.com/channel",
    "https://www.youtube.com/user/",
    "https://www.youtube.com/c/",
    "https://www.youtube.com/@",
    "https://www.youtube.com/@/videos",
    "https://www.youtube.com/embed/",
    "https://www.youtube.com/live/",
    "https://www.youtube.com/v/",
    "https://www.youtube.com/FEED/subscriptions",
    "https://www.youtube.com/Results?search_query=x",
]


@pytest.mark.parametrize("text", RULE_9_PAGES)
def test_rule_9_youtube_pages_are_invalid(text: str) -> None:
    """Given one of YouTube's own pages, when parsed, then it is invalid rather than a vanity name."""
    check(text, INVALID, "")


@pytest.mark.parametrize("name", sorted(RESERVED_PATHS - {"@"}))
def test_rule_9_every_reserved_name_alone_is_invalid(name: str) -> None:
    """Given a reserved name alone as the path, when parsed, then it is invalid and never a custom URL."""
    check(f"https://www.youtube.com/{name}", INVALID, "")


@pytest.mark.parametrize("name", sorted(RESERVED_PATHS - {"@"}))
def test_rule_9_a_name_that_only_begins_like_a_reserved_one_is_a_vanity_name(name: str) -> None:
    """Given a vanity name that begins with a reserved name (like /watchismo), when parsed, then it is a custom URL kept as written."""
    check(f"https://www.youtube.com/{name}ismo", CUSTOM, f"{name}ismo")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("https://www.youtube.com/watchismo", "watchismo"),
        ("https://www.youtube.com/Watchismo/videos", "Watchismo"),
        ("https://www.youtube.com/feedback_channel", "feedback_channel"),
        ("https://www.youtube.com/clipsandmore", "clipsandmore"),
        ("https://www.youtube.com/aboutface", "aboutface"),
        ("https://www.youtube.com/tt", "tt"),
        ("https://www.youtube.com/cc", "cc"),
        ("https://www.youtube.com/users", "users"),
        ("https://www.youtube.com/channels", "channels"),
    ],
)
def test_rule_9_vanity_names_near_reserved_ones(text: str, value: str) -> None:
    """Given a legacy vanity URL close to a reserved word, when parsed, then it is a custom URL exactly as written."""
    check(text, CUSTOM, value)


# --------------------------------------------------------------------------------------------------
# Rule 10: limits


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("https://www.youtube.com/@MrBeast?x=" + "a" * (MAX_INPUT_LENGTH - 35), HANDLE),  # exactly 2,048
        ("https://www.youtube.com/@MrBeast?x=" + "a" * (MAX_INPUT_LENGTH - 34), INVALID),  # 2,049
        ("@" + "a" * 5000, INVALID),
        ("a" * 100_000, INVALID),
        (" " * 3000, INVALID),
    ],
)
def test_rule_10_too_long(text: str, kind: InputKind) -> None:
    """Given inputs at and over 2,048 characters, when parsed, then longer ones are invalid as too long."""
    parsed = parse_channel_input(text)
    assert parsed.kind == kind
    if len(text) > MAX_INPUT_LENGTH:
        assert "too long" in parsed.reason


def test_rule_10_the_limit_is_a_parameter() -> None:
    """Given a smaller max_length, when a longer valid input is parsed, then it is invalid as too long."""
    assert parse_channel_input("@MrBeast", max_length=5).reason.startswith("too long")
    assert parse_channel_input("@MrBeast", max_length=8).kind == HANDLE


# --------------------------------------------------------------------------------------------------
# Rule 11: bare words


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("MrBeast", HANDLE, "mrbeast"),
        ("mrbeast", HANDLE, "mrbeast"),
        ("PewDiePie", HANDLE, "pewdiepie"),
        ("mr.beast", HANDLE, "mr.beast"),
        ("Mr_Beast-6000", HANDLE, "mr_beast-6000"),
        ("東京", HANDLE, "東京"),
        ("Café", HANDLE, "café"),
        (VID, HANDLE, VID.lower()),  # 11 characters: still a word, rule 11
        ("watchismo", HANDLE, "watchismo"),
        ("youtube", HANDLE, "youtube"),
        ("ab", INVALID, ""),
        ("a" * 31, INVALID, ""),
        ("Mr!Beast", INVALID, ""),
        ("MrBeast/videos", INVALID, ""),
        ("channel/" + CID, INVALID, ""),
        ("/@MrBeast", INVALID, ""),
        ("/channel/" + CID, INVALID, ""),
        ("😀", INVALID, ""),
        ("<script", INVALID, ""),
        ("Mr,Beast", INVALID, ""),
        ('Mr"Beast', INVALID, ""),
        ("youtube.co", INVALID, ""),
        ("youtubee.com", INVALID, ""),
        ("www.MrBeast", INVALID, ""),
        ("mrbeast.com", INVALID, ""),
    ],
)
def test_rule_11_bare_words(text: str, kind: InputKind, value: str) -> None:
    """Given a bare word, when parsed, then it is a handle if it satisfies the handle rules, and the reason says it was a guess."""
    parsed = check(text, kind, value)
    if kind is HANDLE:
        assert "bare word" in parsed.reason


@pytest.mark.parametrize(
    "text",
    [
        "@MrBeast",
        CID,
        f"https://www.youtube.com/channel/{CID}",
        f"https://youtu.be/{VID}",
        f"https://www.youtube.com/playlist?list={PL}",
        "https://www.youtube.com/user/PewDiePie",
        "https://www.youtube.com/c/MrBeast6000",
    ],
)
def test_certain_readings_have_no_reason(text: str) -> None:
    """Given an unambiguous input, when parsed, then its reason is empty."""
    assert parse_channel_input(text).reason == ""


# --------------------------------------------------------------------------------------------------
# The public types


def test_kinds_compare_equal_to_plain_strings() -> None:
    """Given the kind enum, when compared with plain strings, then each member equals its name as a string."""
    assert InputKind.HANDLE == "handle"
    assert parse_channel_input("@MrBeast").kind == "handle"
    assert {k.value for k in InputKind} == {
        "channel_id",
        "handle",
        "username",
        "custom_url",
        "video",
        "playlist",
        "invalid",
    }


def test_parse_never_raises_on_non_text() -> None:
    """Given something that is not a str, when parsed, then the answer is invalid, not an exception."""
    for thing in (None, 42, b"@MrBeast", ["@MrBeast"]):
        parsed = parse_channel_input(thing)  # type: ignore[arg-type]
        assert parsed.kind == INVALID and parsed.reason


@pytest.mark.parametrize(
    ("kind", "value", "url"),
    [
        (CHANNEL_ID, CID, f"https://www.youtube.com/channel/{CID}"),
        (HANDLE, "mrbeast", "https://www.youtube.com/@mrbeast"),
        (HANDLE, "あい", "https://www.youtube.com/@あい"),
        (USERNAME, "PewDiePie", "https://www.youtube.com/user/PewDiePie"),
        (CUSTOM, "MrBeast6000", "https://www.youtube.com/c/MrBeast6000"),
        (VIDEO, VID, f"https://www.youtube.com/watch?v={VID}"),
        (PLAYLIST, PL, f"https://www.youtube.com/playlist?list={PL}"),
        (INVALID, "", ""),
        ("handle", "mrbeast", "https://www.youtube.com/@mrbeast"),
        ("nonsense", "x", ""),
    ],
)
def test_canonical_url(kind: str, value: str, url: str) -> None:
    """Given a kind and value, when the canonical URL is built, then it is the one documented form (empty for invalid)."""
    assert canonical_url(kind, value) == url


# --------------------------------------------------------------------------------------------------
# Properties

URLISH = st.one_of(
    st.text(),
    st.builds(
        lambda prefix, body: prefix + body,
        st.sampled_from(
            [
                "",
                "@",
                "https://www.youtube.com/",
                "youtube.com/",
                "https://youtu.be/",
                "https://www.youtube.com/@",
                "https://www.youtube.com/channel/",
                "https://www.youtube.com/c/",
                "https://www.youtube.com/user/",
                "https://www.youtube.com/watch?v=",
                "https://www.youtube.com/playlist?list=",
                "https://www.youtube.com/attribution_link?u=",
                "https://www.youtube.com/oembed?url=",
                "https://m.youtube.com/#",
                "//",
                "UC",
                "PL",
            ]
        ),
        st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("/?#&=%@.:_-UCPL"), max_size=60),
    ),
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(URLISH)
def test_property_any_text_gives_a_valid_answer(text: str) -> None:
    """Given any text, when parsed, then nothing is raised, the kind is known and the value is empty exactly when invalid."""
    parsed = parse_channel_input(text)
    assert isinstance(parsed.kind, InputKind)
    assert (parsed.value == "") == (parsed.kind is INVALID)
    if parsed.kind is INVALID:
        assert parsed.reason


def _round_trips(parsed: ChannelInput) -> None:
    if parsed.kind is INVALID:
        return
    again = parse_channel_input(canonical_url(parsed.kind, parsed.value))
    assert (again.kind, again.value) == (parsed.kind, parsed.value)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(URLISH)
def test_property_canonical_url_round_trips_for_any_text(text: str) -> None:
    """Given any text that parses to a valid kind, when its canonical URL is parsed, then the same kind and value come back."""
    _round_trips(parse_channel_input(text))


HANDLE_TEXT = st.text(
    alphabet=st.characters(categories=["L", "M", "N"]) | st.sampled_from("_-.·"), min_size=1, max_size=40
)
ID_TEXT = "[A-Za-z0-9_-]"


@settings(max_examples=1000)
@given(
    st.one_of(
        st.builds(lambda h: "@" + h, HANDLE_TEXT),
        st.builds(lambda h: "https://www.youtube.com/@" + h, HANDLE_TEXT),
        st.builds(lambda h: "https://www.youtube.com/c/" + h, HANDLE_TEXT),
        st.builds(lambda h: "https://www.youtube.com/user/" + h, HANDLE_TEXT),
        st.builds(lambda h: "https://www.youtube.com/" + h, HANDLE_TEXT),
        st.from_regex(rf"\AUC{ID_TEXT}{{22}}\Z"),
        st.from_regex(rf"\Ahttps://youtu\.be/{ID_TEXT}{{11}}\Z"),
        st.from_regex(rf"\Ahttps://www\.youtube\.com/shorts/{ID_TEXT}{{11}}\Z"),
        st.from_regex(
            rf"\Ahttps://www\.youtube\.com/playlist\?list=(PL|UU|OLAK5uy_|RDCLAK5uy_){ID_TEXT}{{10,40}}\Z"
        ),
    )
)
def test_property_canonical_url_round_trips_for_every_kind(text: str) -> None:
    """Given generated handles, names, channel ids, videos and playlists, when the canonical URL of the parse is parsed, then kind and value are unchanged."""
    _round_trips(parse_channel_input(text))


@settings(max_examples=500)
@given(st.from_regex(rf"\AUC{ID_TEXT}{{22}}\Z"), st.from_regex(rf"\A{ID_TEXT}{{11}}\Z"))
def test_property_ids_parse_to_themselves(channel_id: str, video_id: str) -> None:
    """Given any well-formed channel id and video id, when parsed bare and in URLs, then the value is the id itself."""
    check(channel_id, CHANNEL_ID, channel_id)
    check(f"https://www.youtube.com/channel/{channel_id}/videos", CHANNEL_ID, channel_id)
    check(f"https://www.youtube.com/watch?v={video_id}&list={PL}", VIDEO, video_id)
    check(f"https://youtu.be/{video_id}?si=x", VIDEO, video_id)


# --------------------------------------------------------------------------------------------------
# plan_inputs: deduplication


def test_plan_groups_one_channel_pasted_three_ways_into_one_job() -> None:
    """Given @MrBeast, its /videos URL and an upper-case URL, when planned, then they make one job listing all three lines."""
    plan = plan_inputs(["@MrBeast", "https://youtube.com/@mrbeast/videos", "youtube.com/@MRBEAST"])
    assert len(plan.jobs) == 1
    job = plan.jobs[0]
    assert (job.kind, job.value, job.line_indexes) == (HANDLE, "mrbeast", [0, 1, 2])
    assert [line.job_index for line in plan.lines] == [0, 0, 0]
    assert plan.duplicate_lines == 2


def test_plan_keeps_input_order_duplicates_and_invalid_lines() -> None:
    """Given a mixed list with repeats and bad lines, when planned, then every line is listed in order, pointing at first-seen jobs."""
    lines = [
        f"https://www.youtube.com/channel/{CID}",
        "@MrBeast",
        "javascript:alert(1)",
        CID,
        f"https://youtu.be/{VID}",
        "javascript:alert(1)",
        "not a channel",
        "MrBeast",
        f"https://www.youtube.com/watch?v={VID}&list={PL}",
    ]
    plan = plan_inputs(lines)
    assert [line.index for line in plan.lines] == list(range(len(lines)))
    assert [line.text for line in plan.lines] == lines
    assert [line.job_index for line in plan.lines] == [0, 1, 2, 0, 3, 2, 4, 1, 3]
    assert [(job.kind, job.value) for job in plan.jobs] == [
        (CHANNEL_ID, CID),
        (HANDLE, "mrbeast"),
        (INVALID, "javascript:alert(1)"),
        (VIDEO, VID),
        (INVALID, "not a channel"),
    ]
    assert plan.jobs[2].line_indexes == [2, 5]
    assert plan.invalid_lines == 3
    assert plan.duplicate_lines == 4
    assert plan.lines[2].parsed.value == ""  # the job is keyed by the text, the parse stays empty
    assert plan.jobs_by_kind() == {
        "channel_id": 1,
        "handle": 1,
        "username": 0,
        "custom_url": 0,
        "video": 1,
        "playlist": 0,
        "invalid": 2,
    }


def test_plan_keys_invalid_jobs_by_trimmed_text_cut_to_200() -> None:
    """Given invalid lines differing only by surrounding space, and two long ones, when planned, then jobs are keyed by trimmed text cut to 200 characters."""
    long_a = "!" * 250
    plan = plan_inputs(["  bad input!  ", "bad input!", long_a, long_a + "?"])
    assert [job.value for job in plan.jobs] == ["bad input!", "!" * 200]
    assert [line.job_index for line in plan.lines] == [0, 0, 1, 1]


def test_plan_keeps_username_custom_url_and_handle_of_one_name_apart() -> None:
    """Given the same name as a handle, a username and a custom URL, when planned, then they stay three jobs (they resolve differently)."""
    plan = plan_inputs(["@Google", "youtube.com/user/Google", "youtube.com/c/Google", "youtube.com/Google"])
    assert [(job.kind, job.value) for job in plan.jobs] == [
        (HANDLE, "google"),
        (USERNAME, "Google"),
        (CUSTOM, "Google"),
    ]


def test_plan_of_nothing_is_empty() -> None:
    """Given no lines, when planned, then there are no lines and no jobs."""
    plan = plan_inputs([])
    assert plan.lines == [] and plan.jobs == []


def test_plan_passes_the_length_limit_on() -> None:
    """Given a max_length, when planned, then lines over it are invalid as too long."""
    plan = plan_inputs(["@MrBeast", "@PewDiePie"], max_length=9)
    assert [line.parsed.kind for line in plan.lines] == [HANDLE, INVALID]


# --------------------------------------------------------------------------------------------------
# minimum_quota


def test_quota_counts_each_kind_at_its_price() -> None:
    """Given 120 videos, 51 playlists, 3 handles, 2 usernames and 60 channel ids, when estimated, then each kind is priced per youtube-api.md."""
    lines = (
        [f"https://youtu.be/{i:011d}" for i in range(120)]
        + [f"https://www.youtube.com/playlist?list=PL{i:016d}" for i in range(51)]
        + ["@alpha", "@beta", "@gamma", "@ALPHA"]
        + ["youtube.com/user/one", "youtube.com/user/two"]
        + [f"UC{i:022d}" for i in range(60)]
        + ["javascript:alert(1)"]
    )
    quota = minimum_quota(plan_inputs(lines))
    assert (quota.videos, quota.playlists, quota.handles, quota.usernames, quota.channel_ids) == (
        120,
        51,
        3,
        2,
        60,
    )
    assert (quota.video_units, quota.playlist_units) == (3, 2)
    assert (quota.handle_units, quota.username_units) == (3, 2)
    assert (quota.metadata_ids_min, quota.metadata_ids_max) == (60, 60 + 120 + 51)
    assert (quota.metadata_units_min, quota.metadata_units_max) == (2, 5)
    assert quota.min_units == 3 + 2 + 3 + 2 + 2
    assert quota.max_units_without_search == 3 + 2 + 3 + 2 + 5
    assert quota.max_units_with_search == quota.max_units_without_search
    assert quota.invalid == 1
    assert [line.split(":")[0] for line in quota.breakdown[-3:]] == [
        "default bucket",
        "search bucket",
        "video_stats bucket",
    ]
    assert quota.breakdown[-1] == "video_stats bucket: 0 units"  # no video part asked


def test_quota_of_the_video_part_counts_each_bucket() -> None:
    """Given 100 channel ids and a custom URL with 30 recent videos a channel, when estimated, then uploads and
    titles land in the default bucket, statistics in video_stats, and searches in calls of their own."""
    lines = [f"UC{i:022d}" for i in range(100)] + ["youtube.com/c/Someone"]
    quota = minimum_quota(plan_inputs(lines), recent_videos=30)
    # 101 channels: 101 uploads pages + ⌈3,030 / 50⌉ = 61 titles calls; statistics ⌈3,030 / 50⌉ = 61.
    assert (quota.video_part_units_min, quota.stats_units_min, quota.stats_units_max) == (101 + 61, 61, 61)
    assert quota.min_units == 2 + 1 + 162  # metadata of 100 ids, one forHandle, the video part
    assert quota.search_calls_max == 1
    text = " ".join(quota.breakdown)
    assert "search bucket: 0 calls; with --allow-search up to 1 call (of the 100 a day)" in text
    assert "video_stats bucket: 61 units" in text
    assert "100 units" not in text


def test_quota_custom_urls_range_from_lookup_to_search() -> None:
    """Given 3 custom URLs, when estimated, then they cost 3 units at least, 6 without search, and with search 3 calls of the search bucket plus their metadata."""
    quota = minimum_quota(plan_inputs(["youtube.com/c/One", "youtube.com/Two", "youtube.com/c/Three"]))
    assert quota.custom_urls == 3
    assert (quota.custom_url_units_min, quota.custom_url_units_max_without_search) == (3, 6)
    assert quota.custom_url_units_max_with_search == 6
    assert quota.search_calls_max == 3
    assert (quota.min_units, quota.max_units_without_search, quota.max_units_with_search) == (3, 6, 7)
    assert "3 search.list calls" in " ".join(quota.breakdown)


def test_quota_breakdown_agrees_in_number() -> None:
    """Given one input of each kind, when estimated, then the breakdown says "1 handle", never "1 handle(s)"."""
    quota = minimum_quota(plan_inputs(["@alpha", "youtube.com/user/Bob", "youtu.be/dQw4w9WgXcQ", "@a"]))
    text = " ".join(quota.breakdown)
    assert "1 handle:" in text and "1 username:" in text and "1 video:" in text and "1 invalid input:" in text
    assert "(s)" not in text


def test_quota_of_handles_alone_needs_no_metadata_call() -> None:
    """Given handles only, when estimated, then each costs one lookup and no metadata call is added."""
    quota = minimum_quota(plan_inputs(["@alpha", "@beta"]))
    assert (quota.metadata_ids_max, quota.min_units, quota.max_units_with_search) == (0, 2, 2)


def test_quota_of_only_invalid_inputs_is_zero() -> None:
    """Given only invalid inputs, when estimated, then the run costs nothing."""
    quota = minimum_quota(plan_inputs(["javascript:alert(1)", "@ab"]))
    assert (quota.min_units, quota.max_units_with_search) == (0, 0)


def test_quota_as_dict_is_json_ready() -> None:
    """Given an estimate, when turned into a dict, then it holds plain numbers and a list breakdown."""
    data = minimum_quota(plan_inputs(["@alpha"])).as_dict()
    assert data["min_units"] == 1 and isinstance(data["breakdown"], list)


# --------------------------------------------------------------------------------------------------
# Rule 12: paste artefacts from spreadsheets, CSV exports and chat


@pytest.mark.parametrize(
    ("text", "kind", "value", "said"),
    [
        ('"https://www.youtube.com/@MrBeast"', HANDLE, "mrbeast", "quotes removed"),
        ("'@MrBeast'", HANDLE, "mrbeast", "quotes removed"),
        ("\u201c@MrBeast\u201d", HANDLE, "mrbeast", "quotes removed"),  # “…” from a word processor
        ("\u2018@MrBeast\u2019", HANDLE, "mrbeast", "quotes removed"),  # ‘…’
        (f"<https://youtu.be/{VID}>", VIDEO, VID, "angle brackets removed"),  # a chat or mail autolink
        ("@MrBeast,", HANDLE, "mrbeast", "trailing separator removed"),
        ("@MrBeast;", HANDLE, "mrbeast", "trailing separator removed"),
        ("@MrBeast |", HANDLE, "mrbeast", "trailing separator removed"),
        (f"{CID} , ; ,", CHANNEL_ID, CID, "trailing separator removed"),
        ('"@MrBeast",', HANDLE, "mrbeast", "trailing separator removed; quotes removed"),  # a CSV cell
        ('"@MrBeast,"', HANDLE, "mrbeast", "quotes removed; trailing separator removed"),
        (
            "MrBeast,",
            HANDLE,
            "mrbeast",
            "trailing separator removed; a bare word, read as the handle @mrbeast",
        ),
        ('"MrBeast"', HANDLE, "mrbeast", "quotes removed; a bare word"),
        (
            '<a href="https://www.youtube.com/channel/' + CID + '">MrBeast</a>',
            CHANNEL_ID,
            CID,
            "read from an HTML <a href>",
        ),
        (
            "<A HREF='https://www.youtube.com/watch?v=" + VID + "&amp;t=1' target=_blank>a video</A>",
            VIDEO,
            VID,
            "read from an HTML <a href>",
        ),
        ("<a href=https://www.youtube.com/@MrBeast>x</a>", HANDLE, "mrbeast", "<a href>"),
        # Nothing else is stripped: a quote or a separator inside stays what the rules make of it.
        ('""@MrBeast""', INVALID, "", "quotes removed"),  # one pair only
        ('"@MrBeast', INVALID, "", "not allowed"),  # not a pair
        ("@Mr,Beast", INVALID, "", "not allowed"),
        ("@MrBeast,@PewDiePie", INVALID, "", "not allowed"),
        (
            '<a href="https://www.youtube.com/@a1b">x</a> <a href="https://www.youtube.com/@c2d">y</a>',
            INVALID,
            "",
            "",
        ),
        ('"', INVALID, "", ""),
        ('""', INVALID, "", "empty"),
        (",", INVALID, "", "empty"),
    ],
)
def test_rule_12_paste_artefacts(text: str, kind: InputKind, value: str, said: str) -> None:
    """Given a value wrapped in quotes, brackets, separators or a lone <a href>, when parsed, then the wrapping is removed once and the reason says so."""
    parsed = check(text, kind, value)
    assert said in parsed.reason, parsed


def test_rule_12_certain_readings_keep_no_reason_without_artefacts() -> None:
    """Given inputs with no artefact, when parsed, then no cleaning is said."""
    for text in ("@MrBeast", CID, f"https://www.youtube.com/watch?v={VID}&list={PL}"):
        assert parse_channel_input(text).reason == ""


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"@a1b\n\n@c2d\n", ["@a1b", "@c2d"]),
        ("\ufeff@a1b\r\n@c2d".encode(), ["@a1b", "@c2d"]),  # UTF-8 with a BOM, CRLF
        ("\ufeff@東京\n".encode("utf-16-le"), ["@東京"]),  # UTF-16 LE with its BOM
        ("\ufeff@東京\r\n@c2d".encode("utf-16-be"), ["@東京", "@c2d"]),  # UTF-16 BE
        (b"@a1b\xff\n", ["@a1b\ufffd"]),  # one bad byte costs one line, not the file
        (b"@a1b\r@c2d", ["@a1b", "@c2d"]),  # old Mac line ends
    ],
)
def test_rule_12_files_decode_as_utf8_or_utf16(data: bytes, lines: list[str]) -> None:
    """Given a file's bytes (UTF-8 with or without a BOM, UTF-16 with one), when decoded, then its lines are the text without a BOM or NULs."""
    texts, _ = numbered_lines(decode_input_file(data))
    assert texts == lines
    assert all("\x00" not in t and "\ufeff" not in t for t in texts)


def test_numbered_lines_count_blank_lines_as_a_file_does() -> None:
    """Given a file with blank and whitespace-only lines, when numbered, then the numbers are the file's own lines."""
    texts, numbers = numbered_lines("@a1b\n\n  \n@c2d\r\n\r\n@e3f\n")
    assert texts == ["@a1b", "@c2d", "@e3f"]
    assert numbers == [1, 4, 6]
