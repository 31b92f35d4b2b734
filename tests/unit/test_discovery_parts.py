"""Discovery's pure parts: request checks, keyword rotation, the score, search results per channel."""

from __future__ import annotations

import pytest

from pipeline.discovery.requests import (
    CYCLE_OPTIONS,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    WATCHLIST_SETTINGS,
    clean_keywords,
    clean_name,
    clean_settings,
)
from pipeline.discovery.schedule import rotation
from pipeline.discovery.scoring import SCORE_LABEL, score_channel
from pipeline.discovery.search import channel_hits
from pipeline.errors import InvalidRequest
from pipeline.youtube.parsers import search_result
from pipeline.youtube.records import SearchResult

# --- keywords and names -----------------------------------------------------------------------------


def test_keywords_are_trimmed_collapsed_and_deduplicated_in_any_case():
    """Given keywords with stray whitespace, blanks and a repeat in another case, when cleaned, then each appears once, as first written."""
    assert clean_keywords(["  espresso  machine ", "", "Latte art", "ESPRESSO MACHINE", "\tlatte\nart"]) == [
        "espresso machine",
        "Latte art",
    ]


@pytest.mark.parametrize("value", [[], [""], ["   ", "\n"]])
def test_empty_keywords_are_one_clear_error(value):
    """Given no keyword (or only blanks), when cleaned, then the error says to give at least one."""
    with pytest.raises(InvalidRequest, match=r"^keywords is empty: give at least one keyword$"):
        clean_keywords(value)


def test_a_thousand_keywords_are_refused_with_the_limit():
    """Given 1,000 keywords, when cleaned, then the error names the count and the limit."""
    with pytest.raises(InvalidRequest, match=rf"^too many keywords: 1,000 \(the limit is {MAX_KEYWORDS}\)$"):
        clean_keywords([f"k{i}" for i in range(1_000)])


def test_a_five_thousand_character_keyword_is_refused_with_its_length():
    """Given a 5,000-character keyword in third place, when cleaned, then the error names it, its length and the limit."""
    with pytest.raises(
        InvalidRequest, match=rf"^keyword 3 is 5,000 characters long \(the limit is {MAX_KEYWORD_LENGTH}\)$"
    ):
        clean_keywords(["a", "b", "x" * 5_000])


@pytest.mark.parametrize("bad", ["nul\x00inside", "bell\x07", "lone \udc80 surrogate"])
def test_control_characters_and_lone_surrogates_are_refused(bad):
    """Given a keyword with a control character or a lone surrogate (unstorable in PostgreSQL), when cleaned, then it is refused."""
    with pytest.raises(InvalidRequest, match=r"^keyword 1 contains a control character$"):
        clean_keywords([bad])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("one string", "keywords must be a list of strings, not one string"),
        ({"a": 1}, "keywords must be a list of strings"),
        ([1], "keyword 1 must be a string"),
    ],
)
def test_keywords_of_the_wrong_shape_are_refused(value, message):
    """Given keywords that are not a list of strings, when cleaned, then the error says what they must be."""
    with pytest.raises(InvalidRequest, match=f"^{message}$"):
        clean_keywords(value)


def test_a_name_is_required_and_bounded():
    """Given an empty and a 101-character watchlist name, when cleaned, then both are refused with a reason."""
    with pytest.raises(InvalidRequest, match="is empty"):
        clean_name("   ")
    with pytest.raises(InvalidRequest, match="101 characters long"):
        clean_name("n" * 101)
    assert clean_name("  my   list ") == "my list"


# --- settings and options -----------------------------------------------------------------------------


def test_settings_are_checked_and_normalized():
    """Given valid settings, when cleaned, then the region is upper-cased and the rest kept."""
    clean = clean_settings(
        {"region_code": "de", "relevance_language": "zh-Hans", "interval_hours": 24, "start_runs": True},
        WATCHLIST_SETTINGS,
    )
    assert clean == {
        "region_code": "DE",
        "relevance_language": "zh-Hans",
        "interval_hours": 24,
        "start_runs": True,
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"search_budget": 0}, "search_budget must be from 1 to 500, not 0"),
        ({"search_budget": 10**12}, "search_budget must be from 1 to 500"),
        ({"search_budget": 2.5}, "search_budget must be a whole number"),
        ({"search_budget": True}, "search_budget must be a whole number"),
        ({"interval_hours": float("inf")}, "interval_hours must be a whole number"),
        ({"published_within_days": -1}, "published_within_days must be from 1"),
        ({"region_code": "USA"}, "region_code must be a two-letter country code"),
        ({"relevance_language": "english please"}, "relevance_language must be a language code"),
        ({"start_runs": "yes"}, "start_runs must be true or false"),
        ({"eta": 1}, "unknown option"),
    ],
)
def test_out_of_bounds_settings_are_one_line_errors(settings, message):
    """Given a setting out of bounds, of the wrong type or unknown, when cleaned, then the error names it."""
    with pytest.raises(InvalidRequest, match=message) as raised:
        clean_settings(settings, WATCHLIST_SETTINGS)
    assert "\n" not in str(raised.value)


def test_a_cycle_may_not_change_the_schedule():
    """Given cycle options naming the watchlist's interval, when cleaned as cycle options, then they are refused."""
    assert "interval_hours" not in CYCLE_OPTIONS
    with pytest.raises(InvalidRequest, match="unknown option"):
        clean_settings({"interval_hours": 1}, CYCLE_OPTIONS)


# --- rotation -------------------------------------------------------------------------------------------


def test_rotation_takes_the_next_keywords_and_wraps_round():
    """Given five keywords and two per cycle, when cycles follow each other, then every keyword comes round in turn."""
    words = ["a", "b", "c", "d", "e"]
    taken, cursor = rotation(words, 0, 2)
    assert (taken, cursor) == (["a", "b"], 2)
    taken, cursor = rotation(words, cursor, 2)
    assert (taken, cursor) == (["c", "d"], 4)
    taken, cursor = rotation(words, cursor, 2)
    assert (taken, cursor) == (["e", "a"], 1)


def test_rotation_without_a_limit_takes_every_keyword():
    """Given no keywords-per-cycle limit (or one above the count), when rotated, then all keywords are taken."""
    assert rotation(["a", "b"], 1, None) == (["a", "b"], 0)
    assert rotation(["a", "b"], 1, 5) == (["a", "b"], 0)


# --- the score ------------------------------------------------------------------------------------------


def test_the_score_adds_up_its_four_parts_and_is_labelled_as_ours():
    """Given a channel found by half the keywords with 5 videos, 1,000 subscribers and 1,000 views per video, when scored, then the parts are as documented."""
    score = score_channel(
        keywords_hit=1, keywords_searched=2, video_hits=5, subscribers=999, views=99_900, videos=100
    )
    assert score.parts() == {"keywords": 20.0, "videos": 10.0, "size": 8.6, "views": 8.6}
    assert score.total == 47.2
    assert "computed by ytcollect" in SCORE_LABEL and "not a YouTube metric" in SCORE_LABEL


def test_the_score_is_bounded_and_tolerates_missing_numbers():
    """Given huge numbers, then hidden or missing ones, when scored, then the score stays within 0-100 and never fails."""
    top = score_channel(
        keywords_hit=9, keywords_searched=3, video_hits=500, subscribers=10**12, views=10**15, videos=1
    )
    assert top.total == 100.0
    empty = score_channel(
        keywords_hit=0, keywords_searched=0, video_hits=0, subscribers=None, views=None, videos=0
    )
    assert empty.total == 0.0


# --- search results -------------------------------------------------------------------------------------

CHANNEL = "UC" + "a" * 21 + "A"
OTHER = "UC" + "b" * 21 + "A"


def test_a_page_of_results_counts_videos_and_channel_hits_per_channel():
    """Given two videos of one channel, that channel itself and another channel, when grouped, then each channel has its counts."""
    results = [
        SearchResult("video", CHANNEL, "v1"),
        SearchResult("video", CHANNEL, "v2"),
        SearchResult("channel", CHANNEL),
        SearchResult("channel", OTHER),
        SearchResult("playlist", OTHER),
    ]
    assert channel_hits(results) == {
        CHANNEL: {"videos": 2, "channel": True},
        OTHER: {"videos": 0, "channel": True},
    }


def test_search_items_of_every_type_name_their_channel():
    """Given search.list items for a video, a channel and one without a channel, when parsed, then the first two name theirs and the last is dropped."""
    video = search_result(
        {
            "id": {"kind": "youtube#video", "videoId": "abcdefghijk"},
            "snippet": {"channelId": CHANNEL, "title": "t", "publishedAt": "2026-01-02T03:04:05Z"},
        }
    )
    assert video is not None and (video.kind, video.channel_id, video.video_id) == (
        "video",
        CHANNEL,
        "abcdefghijk",
    )
    assert video.published_at is not None and video.published_at.year == 2026
    channel = search_result({"id": {"kind": "youtube#channel", "channelId": OTHER}})
    assert channel is not None and (channel.kind, channel.channel_id, channel.video_id) == (
        "channel",
        OTHER,
        None,
    )
    assert search_result({"id": {"kind": "youtube#video", "videoId": "x"}, "snippet": {}}) is None
