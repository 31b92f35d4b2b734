"""Recent videos in the emulator over real HTTP: uploads playlists, shelves, Shorts, growth, removals, admin uploads."""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from emulator import EmulatorConfig, EmulatorServer
from emulator.catalogue import SHORTS_UP_TO_180S, SHORTS_VIEWS_BREAK
from emulator.testing import RawClient

KEY = "AIzaTestVideosSuiteKey000000000000000000"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CHANNELS = "/youtube/v3/channels"
VIDEOS = "/youtube/v3/videos"
ITEMS = "/youtube/v3/playlistItems"
PLAYLISTS = "/youtube/v3/playlists"
STATS = "/youtube/v3/videos:batchGetStats"
PLAYLIST_NOT_FOUND = "playlistNotFound"


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=7, channels=600, keys=[KEY], quota_per_key=10**9, start_time=START)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def api(emu):
    emu.reset()
    return RawClient(emu.base_url, key=KEY)


@pytest.fixture(scope="module")
def entries(emu):
    return [e for e in emu.catalogue.sample(600) if not e["terminated"]]


def admin_videos(api, channel_id):
    """The admin view of a channel's uploads (``GET /_emulator/videos``), newest first."""
    return RawClient(f"http://{api.host}:{api.port}").admin("GET", "videos", channel_id=channel_id).json


def uploads(api, playlist_id, part="snippet,contentDetails"):
    """Every item of a playlist, page by page (50 a page)."""
    items, token, pages = [], None, []
    while True:
        answer = api.get(ITEMS, part=part, playlistId=playlist_id, maxResults=50, pageToken=token)
        assert answer.status == 200, answer.body
        pages.append(len(answer.json["items"]))
        items += answer.json["items"]
        token = answer.json.get("nextPageToken")
        if not token:
            return items, pages


def ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def reason(answer):
    return answer.json["error"]["errors"][0]["reason"]


# --- uploads playlists ---------------------------------------------------------------------------------
def test_uploads_page_fifty_at_a_time_in_upload_order_newest_first(emu, api, entries):
    """Given a channel with more than 100 uploads, when its uploads playlist is paged by 50, then the pages hold 50, 50 and the rest, newest upload first, with when each was added and published."""
    entry = next(e for e in entries if len(e["video_ids"]) > 100)
    items, pages = uploads(api, entry["uploads_playlist_id"])
    assert pages[:2] == [50, 50] and sum(pages) == len(entry["video_ids"])
    assert [i["contentDetails"]["videoId"] for i in items] == entry["video_ids"][::-1]
    added = [ts(i["snippet"]["publishedAt"]) for i in items]
    assert added == sorted(added, reverse=True)  # upload order
    assert [i["snippet"]["position"] for i in items] == list(range(len(items)))
    for item in items:
        assert ts(item["contentDetails"]["videoPublishedAt"]) >= ts(item["snippet"]["publishedAt"])


def test_premieres_are_listed_when_uploaded_not_when_published(emu, api, entries):
    """Given the catalogue, when uploads are listed, then some videos were published hours or days after they joined the playlist, so upload order is not publish order."""
    out_of_order = premieres = 0
    for entry in entries[:150]:
        if not entry["video_ids"]:
            continue
        answer = api.get(
            ITEMS, part="snippet,contentDetails", playlistId=entry["uploads_playlist_id"], maxResults=50
        )
        items = answer.json["items"]
        published = [ts(i["contentDetails"]["videoPublishedAt"]) for i in items]
        for item, when in zip(items, published, strict=True):
            premieres += when - ts(item["snippet"]["publishedAt"]) > 3600
        out_of_order += any(newer < older for newer, older in itertools.pairwise(published))
    assert premieres >= 5 and out_of_order >= 3


def test_publish_times_spread_like_real_channels(emu, api, entries):
    """Given the channels with videos, when their newest upload is read, then most uploaded within a month of now, some months ago, and none after now."""
    gaps = []
    for entry in entries[:200]:
        if entry["video_ids"]:
            newest = api.get(ITEMS, part="snippet", playlistId=entry["uploads_playlist_id"], maxResults=1)
            gaps.append((START.timestamp() - ts(newest.json["items"][0]["snippet"]["publishedAt"])) / 86_400)
    assert min(gaps) >= 0
    assert statistics.median(gaps) < 30
    assert sum(g > 180 for g in gaps) >= 5


def test_removed_videos_answer_nothing_and_are_not_counted(emu, api, entries):
    """Given videos removed before now, when they are asked by videos.list and batchGetStats, then they are left out, are not in the uploads and videoCount counts the public ones."""
    entry = next(e for e in entries if e["removed_video_ids"])
    removed = entry["removed_video_ids"]
    assert api.get(VIDEOS, part="id", id=removed).json["items"] == []
    assert api.get(STATS, part="statistics", id=removed).json["items"] == []
    items, _ = uploads(api, entry["uploads_playlist_id"], part="contentDetails")
    assert not {i["contentDetails"]["videoId"] for i in items} & set(removed)
    stats = api.get(CHANNELS, part="statistics", id=entry["id"]).json["items"][0]["statistics"]
    assert int(stats["videoCount"]) == len(entry["video_ids"]) == len(items)
    assert sum(len(e["removed_video_ids"]) for e in entries) >= 10


# --- shelves and Shorts --------------------------------------------------------------------------------
def test_most_channels_have_shorts_long_and_live_shelves(emu, api, entries):
    """Given channels with videos, when their UUSH, UULF and UULV playlists are read, then most have them, each holds its kind, and together they are the uploads."""
    with_videos = [e for e in entries if e["video_ids"]][:60]
    shelved = [e for e in with_videos if e["shorts_playlist_id"] or e["long_playlist_id"]]
    assert len(shelved) / len(with_videos) > 0.7
    entry = next(e for e in shelved if e["shorts_playlist_id"] and e["long_playlist_id"])
    kinds = {v["id"]: v["kind"] for v in admin_videos(api, entry["id"])["uploads"]}
    shelves = {}
    for name, kind in (
        ("shorts_playlist_id", "short"),
        ("long_playlist_id", "long"),
        ("live_playlist_id", "live"),
    ):
        if entry[name] is None:  # no videos of that kind (most channels never stream)
            continue
        assert entry[name].startswith(("UUSH", "UULF", "UULV")) and entry[name][4:] == entry["id"][2:]
        items, _ = uploads(api, entry[name], part="contentDetails")
        shelves[kind] = [i["contentDetails"]["videoId"] for i in items]
        assert {kinds[v] for v in shelves[kind]} == {kind}
    assert sorted(v for ids in shelves.values() for v in ids) == sorted(entry["video_ids"])
    owner = api.get(PLAYLISTS, part="snippet", id=entry["shorts_playlist_id"]).json["items"][0]
    assert owner["snippet"]["channelId"] == entry["id"]


def test_a_channel_without_shelves_answers_playlist_not_found_for_them(emu, api, entries):
    """Given a channel with videos but no UUSH playlist, when UUSH is listed, then it is 404 playlistNotFound while its uploads answer."""
    entry = next(e for e in entries if e["video_ids"] and e["shorts_playlist_id"] is None)
    answer = api.get(ITEMS, part="id", playlistId="UUSH" + entry["id"][2:])
    assert answer.status == 404 and reason(answer) == PLAYLIST_NOT_FOUND
    assert api.get(ITEMS, part="id", playlistId=entry["uploads_playlist_id"]).status == 200


def test_shorts_are_a_real_share_and_never_longer_than_their_limit(emu, api, entries):
    """Given every video of 150 channels, when their durations are read, then 20-50 % are Shorts, none over 180 s (60 s before 2024-10-15), and some long videos are under 180 s too."""
    shorts = total = short_long = 0
    for entry in entries[:150]:
        if not entry["video_ids"]:
            continue
        for video in admin_videos(api, entry["id"])["uploads"]:
            total += 1
            if video["short"]:
                shorts += 1
                limit = 180 if ts(video["added_at"]) >= SHORTS_UP_TO_180S else 60
                assert video["duration_seconds"] < limit
            elif video["kind"] == "long" and video["duration_seconds"] <= 180:
                short_long += 1
    assert 0.2 < shorts / total < 0.5
    assert short_long > 0  # the duration rule alone would call these Shorts


def test_durations_agree_between_the_admin_view_and_the_api(emu, api, entries):
    """Given a channel's videos, when batchGetStats answers, then durationMillis agrees with the admin view's seconds."""
    entry = next(e for e in entries if len(e["video_ids"]) >= 20)
    truth = {v["id"]: v for v in admin_videos(api, entry["id"])["uploads"]}
    items = api.get(STATS, part="contentDetails,snippet", id=entry["video_ids"][-50:]).json["items"]
    for item in items:
        assert int(item["contentDetails"]["durationMillis"]) // 1000 == truth[item["id"]]["duration_seconds"]
        assert item["snippet"]["publishTime"] == truth[item["id"]]["published_at"]


# --- statistics over time ------------------------------------------------------------------------------
def test_video_statistics_grow_with_age_on_the_clock(emu, api, entries):
    """Given 50 videos, when the clock moves a day and then a month on, then no count ever drops and most views grew."""
    ids = [v for e in entries[:40] for v in e["video_ids"][-2:]][:50]

    def counts():
        items = api.get(STATS, part="statistics", id=ids).json["items"]
        return {i["id"]: tuple(int(v) for v in i["statistics"].values()) for i in items}

    first = counts()
    emu.advance_clock(timedelta(days=1))
    second = counts()
    emu.advance_clock(timedelta(days=30))
    third = counts()
    for video in ids:  # views, likes and comments each never drop
        assert all(a <= b <= c for a, b, c in zip(first[video], second[video], third[video], strict=True))
    assert sum(third[v][0] > first[v][0] for v in ids) > 40


def test_young_videos_gain_most_of_their_views_early(emu, api, entries):
    """Given a video uploaded now, when the clock moves 1, 7 and 60 days, then it has views after a day and its growth slows down."""
    channel = next(e for e in entries if e["video_ids"])["id"]
    video = (
        RawClient(emu.base_url)
        .admin("POST", "uploads", {"channel_id": channel, "count": 1})
        .json["video_ids"][0]
    )
    views = []
    for days in (1, 6, 53):
        emu.advance_clock(timedelta(days=days))
        views.append(
            int(api.get(STATS, part="statistics", id=video).json["items"][0]["statistics"]["viewCount"])
        )
    assert 0 < views[0] < views[1] < views[2]
    assert (views[1] - views[0]) / 6 > (views[2] - views[1]) / 53


def test_shorts_views_break_on_2025_03_31_and_long_videos_do_not(emu, api, entries):
    """Given a Short and a long video published weeks before 2025-03-31, when views are read a day before, at and a day after it, then the Short's daily gain jumps and the long video's slows."""
    break_at = datetime.fromtimestamp(SHORTS_VIEWS_BREAK, UTC)
    found: dict[str, str] = {}
    for entry in entries:
        for video in admin_videos(api, entry["id"])["uploads"] if entry["video_ids"] else ():
            age = SHORTS_VIEWS_BREAK - ts(video["published_at"])
            if 20 * 86_400 < age < 60 * 86_400 and video["kind"] in ("short", "long"):
                found.setdefault(video["kind"], video["id"])
        if len(found) == 2:
            break
    gains = {}
    for kind, video in found.items():
        series = []
        for moment in (break_at - timedelta(days=1), break_at, break_at + timedelta(days=1)):
            emu.set_clock(moment)
            item = api.get(STATS, part="statistics", id=video).json["items"][0]
            series.append(int(item["statistics"]["viewCount"]))
        gains[kind] = (series[1] - series[0], series[2] - series[1])
    assert gains["short"][1] > 1.3 * gains["short"][0]
    assert gains["long"][1] <= gains["long"][0]


# --- uploads and removals over time (admin) ------------------------------------------------------------
def test_new_uploads_appear_first_and_count(emu, api, entries):
    """Given a pass that saw a channel's newest upload, when 3 uploads (1 Short) are added, then the next pass finds exactly those 3 above it, and videoCount grew by 3."""
    entry = next(e for e in entries if len(e["video_ids"]) >= 5)
    known = api.get(ITEMS, part="contentDetails", playlistId=entry["uploads_playlist_id"], maxResults=50).json
    newest_known = known["items"][0]["contentDetails"]["videoId"]
    emu.advance_clock(timedelta(hours=5))
    added = (
        RawClient(emu.base_url)
        .admin("POST", "uploads", {"channel_id": entry["id"], "count": 3, "shorts": 1})
        .json
    )
    assert added["video_count"] == len(entry["video_ids"]) + 3
    page = api.get(
        ITEMS, part="snippet,contentDetails", playlistId=entry["uploads_playlist_id"], maxResults=50
    ).json
    ids = [i["contentDetails"]["videoId"] for i in page["items"]]
    new = ids[: ids.index(newest_known)]
    assert new == added["video_ids"][::-1]  # newest first
    for item in page["items"][:3]:
        assert ts(item["snippet"]["publishedAt"]) >= (START + timedelta(hours=5)).timestamp()
    stats = api.get(CHANNELS, part="statistics", id=entry["id"]).json["items"][0]["statistics"]
    assert int(stats["videoCount"]) == len(entry["video_ids"]) + 3
    durations = api.get(STATS, part="contentDetails", id=new).json["items"]
    assert sum(int(i["contentDetails"]["durationMillis"]) <= 180_000 for i in durations) >= 1


def test_a_scheduled_upload_is_a_premiere(emu, api, entries):
    """Given an upload scheduled 2 days ahead, when read before and after then, then it is listed at once as upcoming with no views, and public with views afterwards."""
    entry = next(e for e in entries if e["video_ids"])
    admin = RawClient(emu.base_url)
    video = admin.admin(
        "POST", "uploads", {"channel_id": entry["id"], "count": 1, "scheduled_seconds": 2 * 86_400}
    ).json["video_ids"][0]
    item = api.get(
        ITEMS, part="snippet,contentDetails", playlistId=entry["uploads_playlist_id"], maxResults=1
    ).json["items"][0]
    assert item["contentDetails"]["videoId"] == video
    assert ts(item["contentDetails"]["videoPublishedAt"]) - ts(
        item["snippet"]["publishedAt"]
    ) == pytest.approx(2 * 86_400, abs=2)
    before = api.get(VIDEOS, part="snippet,statistics", id=video).json["items"][0]
    assert (
        before["snippet"]["liveBroadcastContent"] == "upcoming" and before["statistics"]["viewCount"] == "0"
    )
    emu.advance_clock(timedelta(days=3))
    after = api.get(VIDEOS, part="snippet,statistics", id=video).json["items"][0]
    assert after["snippet"]["liveBroadcastContent"] == "none" and int(after["statistics"]["viewCount"]) > 0


def test_a_removed_video_disappears_everywhere(emu, api, entries):
    """Given a public video, when the admin API removes it, then videos.list, batchGetStats and the uploads leave it out and videoCount drops by one."""
    entry = next(e for e in entries if len(e["video_ids"]) >= 3)
    victim = entry["video_ids"][-1]
    answer = RawClient(emu.base_url).admin("POST", "remove", {"video_ids": [victim, "AAAAAAAAAAA"]}).json
    assert answer == {"removed": [victim], "unknown": ["AAAAAAAAAAA"]}
    assert api.get(VIDEOS, part="id", id=victim).json["items"] == []
    assert api.get(STATS, part="statistics", id=victim).json["items"] == []
    first = api.get(ITEMS, part="contentDetails", playlistId=entry["uploads_playlist_id"], maxResults=1).json
    assert first["items"][0]["contentDetails"]["videoId"] == entry["video_ids"][-2]
    stats = api.get(CHANNELS, part="statistics", id=entry["id"]).json["items"][0]["statistics"]
    assert int(stats["videoCount"]) == len(entry["video_ids"]) - 1


def test_removing_every_video_makes_the_uploads_playlist_not_found(emu, api, entries):
    """Given a channel with few videos, when all are removed, then its uploads playlist answers 404 playlistNotFound, as for a channel with no public videos."""
    entry = next(e for e in entries if 1 <= len(e["video_ids"]) <= 3)
    RawClient(emu.base_url).admin("POST", "remove", {"video_ids": entry["video_ids"]})
    answer = api.get(ITEMS, part="id", playlistId=entry["uploads_playlist_id"])
    assert answer.status == 404 and reason(answer) == PLAYLIST_NOT_FOUND


def test_reset_forgets_uploads_and_removals(emu, api, entries):
    """Given an added upload and a removed video, when the emulator is reset, then the channel is as it started."""
    entry = next(e for e in entries if len(e["video_ids"]) >= 3)
    admin = RawClient(emu.base_url)
    added = admin.admin("POST", "uploads", {"channel_id": entry["id"]}).json["video_ids"]
    admin.admin("POST", "remove", {"video_ids": [entry["video_ids"][0]]})
    assert admin.admin("POST", "reset").status == 200
    assert emu.catalogue.entry(emu.catalogue.index_of_id(entry["id"]))["video_ids"] == entry["video_ids"]
    assert api.get(VIDEOS, part="id", id=added).json["items"] == []


def test_admin_uploads_refuse_bad_requests(emu, api, entries):
    """Given an unknown channel, a negative count or more Shorts than uploads, when uploads are asked, then the admin API answers 400 with the reason."""
    admin = RawClient(emu.base_url)
    live = next(e for e in entries if e["video_ids"])["id"]
    for body in (
        {"channel_id": "UC" + "x" * 22},
        {"channel_id": live, "count": -1},
        {"channel_id": live, "count": 1, "shorts": 2},
        {},
    ):
        answer = admin.admin("POST", "uploads", body)
        assert answer.status == 400 and answer.json["error"]
    assert admin.admin("POST", "remove", {"video_ids": "abc"}).status == 400
