"""Pure parts of the video part: parsers, the feed, the Shorts rule, polling by age, intervals and growth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from models import Channel
from pipeline.errors import InvalidRequest
from pipeline.stages.uploads import expected_new
from pipeline.videos import aggregate_points, bucket_start, growth, video_id_of
from pipeline.videostore import PollPolicy, is_short
from pipeline.youtube.feed import FeedUnavailable, parse_feed
from pipeline.youtube.parsers import parse_duration, parse_video, upload_item

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H2M3S", 3723),
        ("PT0S", 0),
        ("P1DT2H", 93_600),
        ("PT59S", 59),
        ("PT3M", 180),
        ("", None),
        ("PT", None),
        ("1:02", None),
    ],
)
def test_iso_durations_become_whole_seconds(text, seconds):
    """Given an ISO 8601 duration as the API writes it, when parsed, then it is whole seconds (None when odd)."""
    assert parse_duration(text) == seconds


def test_a_batch_get_stats_item_reads_publish_time_and_duration_millis():
    """Given a youtube#videoStats item, when parsed, then publishTime, durationMillis and the string counts are read."""
    item = {
        "kind": "youtube#videoStats",
        "id": "abcdefghijk",
        "snippet": {"publishTime": "2026-11-01T10:00:00Z"},
        "statistics": {"viewCount": "3000000000", "likeCount": "12", "commentCount": "3"},
        "contentDetails": {"duration": "PT2M", "durationMillis": "121500"},
    }
    record = parse_video(item)
    assert record is not None
    assert (record.view_count, record.like_count, record.comment_count) == (3_000_000_000, 12, 3)
    assert record.duration_seconds == 121 and record.published_at == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert record.title is None  # batchGetStats has no title: videos.list gives it once


def test_a_videos_list_item_without_likes_keeps_them_unknown():
    """Given a videos.list item whose likes are hidden, when parsed, then likes are None and the rest is read."""
    item = {
        "id": "abcdefghijk",
        "snippet": {"title": "T", "channelId": "UC" + "a" * 22, "publishedAt": "2026-01-01T00:00:00Z"},
        "statistics": {"viewCount": "5"},
        "contentDetails": {"duration": "PT10M"},
    }
    record = parse_video(item)
    assert (
        record is not None
        and record.like_count is None
        and record.view_count == 5
        and record.duration_seconds == 600
    )


def test_an_upload_item_carries_the_videos_publish_time_not_the_playlist_time():
    """Given an uploads-playlist item of a premiere, when parsed, then its publish time is videoPublishedAt."""
    item = {
        "contentDetails": {"videoId": "abcdefghijk", "videoPublishedAt": "2026-12-24T18:00:00Z"},
        "snippet": {"publishedAt": "2026-12-01T00:00:00Z"},
    }
    parsed = upload_item(item)
    assert parsed is not None and parsed.published_at == datetime(2026, 12, 24, 18, tzinfo=UTC)


FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <yt:channelId>UCaaaaaaaaaaaaaaaaaaaaaA</yt:channelId>
 <entry><yt:videoId>bbbbbbbbbbb</yt:videoId><title>Newest &amp; best</title><published>2026-11-30T10:00:00+00:00</published></entry>
 <entry><yt:videoId>ccccccccccc</yt:videoId><title>\xe3\x81\x82</title><published>2026-11-29T10:00:00+00:00</published></entry>
</feed>"""


def test_a_feed_gives_its_entries_newest_first_with_titles_and_times():
    """Given a channel feed, when parsed, then each entry has its video id, title and publish time, in feed order."""
    entries = parse_feed(FEED)
    assert [e.video_id for e in entries] == ["bbbbbbbbbbb", "ccccccccccc"]
    assert entries[0].title == "Newest & best" and entries[1].title == "あ"
    assert entries[0].published_at == datetime(2026, 11, 30, 10, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"<html>503</html>", b"not xml at all", b'<?xml version="1.0"?><rss/>'])
def test_anything_but_an_atom_feed_is_unavailable(body):
    """Given an HTML error page or garbage, when parsed as a feed, then it is FeedUnavailable (the playlist is read instead)."""
    with pytest.raises(FeedUnavailable):
        parse_feed(body)


def test_the_feed_must_account_for_the_rise_in_video_count():
    """Given a channel's videoCount now and at its last check, when the new uploads expected are computed, then it is the rise (first check: all, capped; a fall: none)."""
    assert expected_new(Channel(id="UC1", video_count=40, uploads_checked_video_count=None), 30) == 30
    assert expected_new(Channel(id="UC1", video_count=42, uploads_checked_video_count=40), 30) == 2
    assert expected_new(Channel(id="UC1", video_count=39, uploads_checked_video_count=40), 30) == 0
    assert expected_new(None, 30) == 0


def test_shorts_are_decided_both_ways_by_the_180_second_limit():
    """Given durations around YouTube's Shorts limit, when classified, then 180 s is a Short, 181 s is not, unknown stays unknown."""
    assert is_short(180, 180) is True and is_short(59, 180) is True
    assert is_short(181, 180) is False and is_short(3600, 180) is False
    assert is_short(None, 180) is None


def test_videos_are_polled_less_often_as_they_age_and_never_past_the_cap():
    """Given the default policy, when asked for the interval at each age, then 6 h under 48 h, daily under 30 days, weekly under 180, never after (tracked: weekly)."""
    policy = PollPolicy(timedelta(hours=48), timedelta(hours=6), timedelta(days=30), timedelta(days=180))
    assert policy.interval(timedelta(hours=3)) == timedelta(hours=6)
    assert policy.interval(timedelta(days=10)) == timedelta(days=1)
    assert policy.interval(timedelta(days=100)) == timedelta(days=7)
    assert policy.interval(timedelta(days=400)) is None
    assert policy.interval(timedelta(days=400), tracked=True) == timedelta(days=7)


@dataclass
class Snap:
    fetched_at: datetime
    view_count: int | None
    like_count: int | None
    comment_count: int | None


def test_snapshots_aggregate_to_the_max_per_interval_with_growth_first_to_last():
    """Given reads over three days, when aggregated per day, then each day shows its max counts and growth is last minus first, absolute and percent."""
    snaps = [
        Snap(T0, 100, 10, 1),
        Snap(T0 + timedelta(hours=6), 150, 12, 1),
        Snap(T0 + timedelta(days=1), 200, 15, None),
        Snap(T0 + timedelta(days=2, hours=1), 400, 20, 4),
    ]
    points = aggregate_points(snaps, "day")
    assert [(p.views, p.likes, p.comments, p.snapshots) for p in points] == [
        (150, 12, 1, 2),
        (200, 15, None, 1),
        (400, 20, 4, 1),
    ]
    g = growth(points)
    assert g["views"] == {"first": 150, "last": 400, "absolute": 250, "percent": 166.67}
    assert g["comments"]["absolute"] == 3
    assert [p.views for p in aggregate_points(snaps, "week")] == [400]
    assert len(aggregate_points(snaps, "hour")) == 4


def test_buckets_start_at_the_hour_day_monday_and_first_of_the_month():
    """Given an instant, when bucketed, then hours, days, ISO weeks and months start where a reader expects."""
    moment = datetime(2026, 11, 26, 15, 42, tzinfo=UTC)  # a Thursday
    assert bucket_start(moment, "hour") == datetime(2026, 11, 26, 15, tzinfo=UTC)
    assert bucket_start(moment, "week") == datetime(2026, 11, 23, tzinfo=UTC)
    assert bucket_start(moment, "month") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(InvalidRequest):
        bucket_start(moment, "year")


def test_a_video_is_named_by_its_id_or_any_video_url():
    """Given a bare id, a youtu.be link or a Shorts URL, when read, then each gives the video id; a channel URL is refused in one line."""
    assert video_id_of("dQw4w9WgXcQ") == "dQw4w9WgXcQ"
    assert video_id_of("https://youtu.be/dQw4w9WgXcQ?si=x") == "dQw4w9WgXcQ"
    assert video_id_of("https://www.youtube.com/shorts/dQw4w9WgXcQ") == "dQw4w9WgXcQ"
    with pytest.raises(InvalidRequest, match="not a video"):
        video_id_of("https://www.youtube.com/@someone")
