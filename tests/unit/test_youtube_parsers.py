"""Parsers: API items of the real shape, with every optional field missing in turn."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from pipeline.youtube import parsers
from pipeline.youtube.records import ChannelRecord, SearchHit

FULL_CHANNEL = {
    "kind": "youtube#channel",
    "etag": "x9RGMQzTjUbWS1bGtPPmnxDHSTk",
    "id": "UC_x5XG1OV2P6uZZ5FSM9Ttw",
    "snippet": {
        "title": "Google for Developers",
        "description": "Subscribe to join a community of creative developers.",
        "customUrl": "@GoogleDevelopers",
        "publishedAt": "2007-08-23T00:34:43Z",
        "thumbnails": {
            "default": {"url": "https://yt3.ggpht.com/a=s88", "width": 88, "height": 88},
            "medium": {"url": "https://yt3.ggpht.com/a=s240", "width": 240, "height": 240},
            "high": {"url": "https://yt3.ggpht.com/a=s800", "width": 800, "height": 800},
        },
        "localized": {"title": "Google for Developers", "description": "…"},
        "country": "US",
    },
    "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UU_x5XG1OV2P6uZZ5FSM9Ttw"}},
    "statistics": {
        "viewCount": "3012345678",
        "subscriberCount": "2410000",
        "hiddenSubscriberCount": False,
        "videoCount": "6123",
    },
}


def _without(path: str) -> dict:
    item = copy.deepcopy(FULL_CHANNEL)
    *parents, last = path.split(".")
    node = item
    for name in parents:
        node = node[name]
    del node[last]
    return item


def test_full_channel_item_parses_every_field():
    """Given a complete channels.list item, when parsed, then every field lands typed (counts as ints above 2**31)."""
    record = parsers.parse_channel(FULL_CHANNEL)
    assert record == ChannelRecord(
        channel_id="UC_x5XG1OV2P6uZZ5FSM9Ttw",
        title="Google for Developers",
        description="Subscribe to join a community of creative developers.",
        handle="@googledevelopers",
        published_at=datetime(2007, 8, 23, 0, 34, 43, tzinfo=UTC),
        country="US",
        thumbnail_url="https://yt3.ggpht.com/a=s800",
        uploads_playlist_id="UU_x5XG1OV2P6uZZ5FSM9Ttw",
        view_count=3_012_345_678,
        subscriber_count=2_410_000,
        hidden_subscriber_count=False,
        video_count=6123,
    )
    assert record.view_count > 2**31


@pytest.mark.parametrize(
    ("missing", "field", "expected"),
    [
        ("snippet", "title", ""),
        ("snippet", "handle", None),
        ("snippet.country", "country", None),
        ("snippet.thumbnails", "thumbnail_url", None),
        ("snippet.customUrl", "handle", None),
        ("snippet.publishedAt", "published_at", None),
        ("statistics", "view_count", None),
        ("statistics.subscriberCount", "subscriber_count", None),
        ("statistics.hiddenSubscriberCount", "hidden_subscriber_count", False),
        ("contentDetails", "uploads_playlist_id", None),
        ("contentDetails.relatedPlaylists", "uploads_playlist_id", None),
    ],
)
def test_missing_field_is_tolerated(missing, field, expected):
    """Given an item with one optional field or part missing, when parsed, then that field is empty and the rest intact."""
    record = parsers.parse_channel(_without(missing))
    assert getattr(record, field) == expected
    assert record.channel_id == FULL_CHANNEL["id"]


def test_bare_item_with_only_an_id_parses():
    """Given an item with nothing but its id (part=id), when parsed, then a record with empty fields comes out."""
    assert parsers.parse_channel({"id": "UCabcdefghijklmnopqrstuA"}) == ChannelRecord(
        channel_id="UCabcdefghijklmnopqrstuA"
    )


def test_hidden_subscriber_count_without_count():
    """Given a hidden subscriber count with subscriberCount absent, when parsed, then the flag is True and the count None."""
    item = _without("statistics.subscriberCount")
    item["statistics"]["hiddenSubscriberCount"] = True
    record = parsers.parse_channel(item)
    assert record.hidden_subscriber_count is True
    assert record.subscriber_count is None


def test_odd_count_values_become_none_not_errors():
    """Given counts that are not digit strings, when parsed, then they become None (or the int they already are)."""
    assert parsers.parse_count("12") == 12
    assert parsers.parse_count(12) == 12
    assert parsers.parse_count("") is None
    assert parsers.parse_count("n/a") is None
    assert parsers.parse_count(None) is None
    assert parsers.parse_count(True) is None


def test_unicode_handle_is_lowercased_and_percent_escapes_decoded():
    """Given a non-Latin customUrl (plain or percent-encoded), when parsed, then the decoded lowercased handle comes out."""
    assert parsers.parse_handle("@Ünïcode.Chännel") == "@ünïcode.chännel"
    assert parsers.parse_handle("@%E3%81%BF%E3%82%93%E3%81%AA") == "@みんな"
    assert parsers.parse_handle("") is None


def test_timestamp_with_fraction_and_garbage():
    """Given publishedAt with fractional seconds or garbage, when parsed, then aware UTC or None comes out."""
    assert parsers.parse_timestamp("2012-03-01T12:34:56.123456Z") == datetime(
        2012, 3, 1, 12, 34, 56, 123456, tzinfo=UTC
    )
    assert parsers.parse_timestamp("yesterday") is None


def test_empty_channels_list_has_no_items_key():
    """Given the empty channels.list answer (no items key at all), when parsed, then no channel comes out."""
    empty = {
        "kind": "youtube#channelListResponse",
        "etag": "e",
        "pageInfo": {"totalResults": 0, "resultsPerPage": 5},
    }
    assert parsers.response_items(empty) == []
    assert parsers.channels_by_id(empty) == {}


def test_batch_is_keyed_by_item_id_not_order():
    """Given items in another order than asked and one id missing, when keyed, then each record sits under its own id."""
    a = {"id": "UCaaaaaaaaaaaaaaaaaaaaaA", "snippet": {"title": "A"}}
    b = {"id": "UCbbbbbbbbbbbbbbbbbbbbbQ", "snippet": {"title": "B"}}
    found = parsers.channels_by_id({"items": [b, a, {"snippet": {"title": "no id"}}]})
    assert {k: v.title for k, v in found.items()} == {
        "UCaaaaaaaaaaaaaaaaaaaaaA": "A",
        "UCbbbbbbbbbbbbbbbbbbbbbQ": "B",
    }


def test_video_and_playlist_owners():
    """Given videos.list or playlists.list items, when parsed, then each id maps to snippet.channelId and sparse items drop out."""
    response = {
        "kind": "youtube#videoListResponse",
        "items": [
            {"id": "dQw4w9WgXcQ", "snippet": {"channelId": "UCuAXFkgsw1L7xaCfnd5JJOw", "title": "x"}},
            {"id": "aaaaaaaaaaE", "snippet": {}},
            {"id": "bbbbbbbbbbI"},
        ],
        "pageInfo": {"totalResults": 3, "resultsPerPage": 3},
    }
    assert parsers.owners_by_id(response) == {"dQw4w9WgXcQ": "UCuAXFkgsw1L7xaCfnd5JJOw"}
    assert parsers.owners_by_id({"items": [], "pageInfo": {"totalResults": 0, "resultsPerPage": 0}}) == {}


def test_playlist_item_video_id_from_either_part():
    """Given playlistItems with contentDetails or only snippet.resourceId, when parsed, then the video id is found in both."""
    assert parsers.playlist_item_video_id({"contentDetails": {"videoId": "dQw4w9WgXcQ"}}) == "dQw4w9WgXcQ"
    item = {"snippet": {"resourceId": {"kind": "youtube#video", "videoId": "aaaaaaaaaaE"}}}
    assert parsers.playlist_item_video_id(item) == "aaaaaaaaaaE"
    assert parsers.playlist_item_video_id({}) is None


def test_search_hit_reads_channel_id_object():
    """Given search.list items, when parsed, then channel hits carry id.channelId and non-channels are skipped."""
    hit = {
        "kind": "youtube#searchResult",
        "id": {"kind": "youtube#channel", "channelId": "UCabcdefghijklmnopqrstuA"},
        "snippet": {"title": "Some Channel", "channelId": "UCabcdefghijklmnopqrstuA"},
    }
    assert parsers.search_hit(hit) == SearchHit("UCabcdefghijklmnopqrstuA", "Some Channel")
    assert parsers.search_hit({"id": {"kind": "youtube#video", "videoId": "dQw4w9WgXcQ"}}) is None
