"""The emulator's pure parts: ids, rounding, Pacific days, page tokens, query parsing, faults, quota, catalogue."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from emulator import Catalogue, EmulatorConfig, round_3_significant
from emulator.app import Emulator, page_token, parse_query, read_page_token
from emulator.clock import EmulatorClock, next_pacific_midnight, pacific_day
from emulator.faults import FaultPlan
from emulator.ids import IdCodec, fingerprint
from emulator.quota import QuotaBook

CODEC = IdCodec(7)


@given(st.integers(min_value=0, max_value=2**24 - 1))
def test_channel_ids_round_trip_and_have_the_real_shape(index):
    """Given any slot, when encoded as a channel id, then it has the UC shape and decodes (also as UU) to the slot."""
    channel_id = CODEC.channel_id(index)
    assert re.fullmatch(r"UC[A-Za-z0-9_-]{21}[AQgw]", channel_id)
    assert CODEC.channel_index(channel_id) == index
    assert CODEC.channel_index("UU" + channel_id[2:]) == index


@given(st.integers(min_value=0, max_value=2**24 - 1), st.integers(min_value=0, max_value=255))
def test_video_and_playlist_ids_round_trip(index, number):
    """Given any slot and number, when encoded as video and playlist ids, then they have the real shapes and decode back."""
    video_id, playlist_id = CODEC.video_id(index, number), CODEC.playlist_id(index, number)
    assert re.fullmatch(r"[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]", video_id)
    assert re.fullmatch(r"PL[A-Za-z0-9_-]{32}", playlist_id)
    assert CODEC.video_slot(video_id) == (index, number)
    assert CODEC.playlist_slot(playlist_id) == (index, number)


@given(st.text(max_size=40))
def test_foreign_ids_decode_to_nothing(text):
    """Given arbitrary text, when decoded as ids, then nothing but our own ids decodes."""
    index = CODEC.channel_index("UC" + text)
    assert index is None or CODEC.channel_id(index) == "UC" + text
    slot = CODEC.video_slot(text)
    assert slot is None or CODEC.video_id(*slot) == text


def test_another_seed_makes_other_ids():
    """Given two seeds, when they encode the same slot, then the ids differ and one seed cannot decode the other's."""
    other = IdCodec(8)
    assert other.channel_id(5) != CODEC.channel_id(5)
    assert other.channel_index(CODEC.channel_id(5)) is None


@given(st.integers(min_value=0, max_value=10**15))
def test_rounding_keeps_three_significant_figures_rounding_down(count):
    """Given any count, when rounded for display, then it is at most the count, has at most 3 significant figures and loses under 1%."""
    shown = round_3_significant(count)
    assert shown <= count
    assert len(str(shown).rstrip("0") or "0") <= 3 or shown == count
    assert count - shown < max(1, count // 100 + 1)


def test_fingerprint_is_eight_hex_of_sha256():
    """Given a key, when fingerprinted, then the result is the first 8 hex characters of its SHA-256."""
    assert fingerprint("abc") == "ba7816bf"


def test_pacific_day_and_its_end_follow_daylight_saving():
    """Given instants around the 2026 DST changes, when their quota day is computed, then the Pacific day and its end in UTC are right."""
    assert pacific_day(datetime(2026, 3, 9, 6, 59, tzinfo=UTC)) == "2026-03-08"
    assert pacific_day(datetime(2026, 3, 9, 7, 0, tzinfo=UTC)) == "2026-03-09"
    assert next_pacific_midnight(datetime(2026, 3, 8, 12, tzinfo=UTC)) == datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert next_pacific_midnight(datetime(2026, 3, 7, 12, tzinfo=UTC)) == datetime(2026, 3, 8, 8, tzinfo=UTC)
    assert next_pacific_midnight(datetime(2026, 11, 1, 12, tzinfo=UTC)) == datetime(
        2026, 11, 2, 8, tzinfo=UTC
    )


def test_frozen_clock_moves_only_when_told():
    """Given a start time, when the clock is advanced, set and reset, then now() moves only then and reset() goes back."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = EmulatorClock(start)
    assert clock.now() == start
    clock.advance(90)
    assert clock.now() == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2030, 1, 1, tzinfo=UTC)
    clock.reset()
    assert clock.now() == start


@given(st.integers(min_value=0, max_value=10**9), st.booleans())
def test_page_tokens_round_trip(offset, backwards):
    """Given any offset, when encoded as a page token, then it reads back as that offset."""
    assert read_page_token(page_token(offset, backwards)) == offset


def test_page_token_has_the_api_shape():
    """Given offset 5, when encoded, then the token is the API's familiar CAUQAA, and garbage reads as no token."""
    assert page_token(5) == "CAUQAA"
    assert read_page_token("garbage!") is None


def test_query_parsing_decodes_utf8_plus_and_repeats():
    """Given a query with %2C, + and repeated names, when parsed, then values are decoded and collected in order."""
    params = parse_query("id=a%2Cb&id=c&q=two+words&forHandle=%40%E3%81%95%E3%81%8F%E3%82%89&empty=")
    assert params == {"id": ["a,b", "c"], "q": ["two words"], "forHandle": ["@さくら"], "empty": [""]}


def test_fault_rate_draws_are_deterministic_per_seed():
    """Given one rate plan, when the same request sequence runs under one seed twice and under another, then the first two meet the same faults."""
    plan = {"faults": [{"kind": "backend_503", "rate": 0.5}]}

    def run(seed):
        faults = FaultPlan(seed)
        faults.set(plan)
        return [faults.pick("channels.list", "abcd1234") for _ in range(64)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_quota_book_charges_projects_not_keys():
    """Given two keys in one project, when each is charged, then the project's bucket holds both."""
    book = QuotaBook(EmulatorConfig(keys=["a", "b"], projects={"p": ["a", "b"]}, quota_per_key=3))
    a, b = book.key_info("a"), book.key_info("b")
    assert a.project == b.project == "p"
    book.record(a, "channels.list", "2026-01-01", 2, 200)
    assert book.has_room("p", "default", "2026-01-01", 1)
    assert not book.has_room("p", "default", "2026-01-01", 2)
    assert book.has_room("p", "default", "2026-01-02", 3)


def test_quota_book_keeps_one_bucket_per_method_family():
    """Given a spent search bucket, when the other buckets are asked, then each still has its own room."""
    book = QuotaBook(EmulatorConfig(keys=["a"], search_quota_per_key=1, stats_quota_per_key=2))
    a = book.key_info("a")
    book.record(a, "search.list", "2026-01-01", 1, 200)
    assert not book.has_room(a.project, "search", "2026-01-01", 1)
    assert book.has_room(a.project, "default", "2026-01-01", 1)
    assert book.has_room(a.project, "video_stats", "2026-01-01", 2)


def test_handle_can_be_answered_without_http():
    """Given the app object, when handle() answers a channels.list, then it returns the status, body and units."""
    emu = Emulator(EmulatorConfig(channels=30))
    entry = next(e for e in emu.catalogue.sample(30) if not e["terminated"])
    status, body, units, drop = emu.handle("channels.list", parse_query(f"part=id&id={entry['id']}&key=k"))
    assert (status, units, drop) == (200, 1, False) and entry["id"].encode() in body


def test_catalogue_prefix_is_stable_whatever_its_size():
    """Given one seed, when catalogues of 300 and 3,000 channels are built, then their first 300 channels are identical."""
    assert Catalogue(9, 300).sample(300) == Catalogue(9, 3000).sample(300)


def test_catalogue_has_the_documented_variety():
    """Given 10,000 channels, when counted, then usernames, custom names, hidden, no-country, no-video and terminated shares are as documented."""
    cat = Catalogue(7, 10_000)
    n = len(cat)

    def share(predicate):
        return sum(1 for i in range(n) if predicate(i)) / n

    assert 0.27 < share(lambda i: cat.usernames[i] is not None) < 0.33
    assert 0.08 < share(lambda i: cat.custom_names[i] != cat.handles[i]) < 0.12
    assert 0.04 < share(lambda i: cat.flags[i] & 2) < 0.06
    assert 0.04 < share(lambda i: cat.flags[i] & 4) < 0.06
    assert 0.01 < share(lambda i: cat.flags[i] & 1) < 0.03
    assert 0.17 < share(lambda i: cat.detail(i).country is None) < 0.23
    assert {cat.scripts[i] for i in range(n)} == {"latin", "ja", "ru", "ar", "hi", "ko"}
    handles = [h.casefold() for h in cat.handles]
    assert len(set(handles)) == n  # unique without regard to case
    assert all(3 <= len(h) <= 30 for h, s in zip(cat.handles, cat.scripts, strict=True) if s == "latin")


def test_field_selections_parse_and_merge():
    """Given paths, groups and wildcards, when parsed, then overlapping selections merge and a whole selection wins over a part of it."""
    from emulator import fields

    assert fields.parse("items(id,snippet/title),nextPageToken") == {
        "items": {"id": None, "snippet": {"title": None}},
        "nextPageToken": None,
    }
    assert fields.parse("items/id,items/snippet/title") == fields.parse("items(id,snippet(title))")
    assert fields.parse("items/snippet,items/snippet/title") == {"items": {"snippet": None}}
    assert fields.parse("items(snippet/title),items/snippet") == {"items": {"snippet": None}}
    document = {"items": [{"id": "a", "snippet": {"title": "t", "x": 1}}, {"id": "b"}], "kind": "k"}
    assert fields.select(document, fields.parse("items(id,snippet/title)")) == {
        "items": [{"id": "a", "snippet": {"title": "t"}}, {"id": "b"}]
    }
    assert fields.select(document, fields.parse("nothing")) == {}
    assert fields.select(document, fields.parse("*")) == document


@given(st.text(alphabet="ab(),/* ", max_size=20))
def test_any_field_selection_parses_or_is_refused(spec):
    """Given any string of selection characters, when parsed, then it is a selection or a FieldsError, never another exception."""
    from emulator import fields

    try:
        selection = fields.parse(spec)
    except fields.FieldsError:
        return
    assert isinstance(selection, dict) and selection


def test_every_niche_has_keywords_and_every_script_topic_a_niche():
    """Given the catalogue's topic words, when looked up, then every Latin topic has keyword phrases and every other script's topic word maps to one."""
    from emulator import catalogue, niches

    assert set(catalogue._TOPICS) == set(niches.KEYWORDS)
    assert all(len(phrases) >= 5 for phrases in niches.KEYWORDS.values())
    native = {word for _, _, topics, _ in catalogue._SCRIPTS.values() for word in topics}
    assert native == set(niches.NATIVE_TOPICS) and set(niches.NATIVE_TOPICS.values()) <= set(niches.KEYWORDS)


def test_removed_uploads_are_counted_without_drawing_them():
    """Given 3,000 channels, when each channel's removed uploads are counted by formula and one by one, then both agree and no channel loses its first video."""
    cat = Catalogue(7, 3000)
    removed_somewhere = 0
    for index in range(len(cat)):
        detail = cat.detail(index)
        listed = cat.removed_uploads(index)
        assert len(listed) == detail.n_removed and 0 not in listed
        removed_somewhere += bool(listed)
    assert removed_somewhere > 100


@given(st.floats(min_value=0, max_value=20 * 365 * 86_400), st.floats(min_value=0, max_value=365 * 86_400))
def test_video_views_never_drop_and_start_at_publication(age, later):
    """Given any video and two instants, when its views are read, then they are 0 before publication and never drop over time."""
    cat = Catalogue(7, 50)
    index = next(i for i in range(50) if cat.live(i) and cat.uploads(i))
    video = cat.video_detail(index, cat.uploads(index)[-1])
    now = video.published - 3600 + age
    assert video.views(video.published - 1) == 0
    assert video.views(now) <= video.views(now + later)


def test_iso_durations_read_back_to_their_seconds():
    """Given durations from 0 s to 10 h, when written as ISO 8601, then they read back to the same seconds and leave zero parts out."""
    from emulator.catalogue import iso_duration

    pattern = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")
    for seconds in (0, 1, 59, 60, 61, 3599, 3600, 3601, 36_000):
        hours, minutes, secs = (int(g or 0) for g in pattern.fullmatch(iso_duration(seconds)).groups())
        assert hours * 3600 + minutes * 60 + secs == seconds
    assert (iso_duration(0), iso_duration(60), iso_duration(3600)) == ("PT0S", "PT1M", "PT1H")
