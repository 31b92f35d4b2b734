"""The public channel feed (``/feeds/videos.xml``) over real HTTP: Atom like YouTube's, no key, no quota, faults."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from emulator import EmulatorConfig, EmulatorServer
from emulator.testing import RawClient

KEY = "AIzaTestFeedSuiteKey00000000000000000000"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NS = {
    "a": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}
STATS = "/youtube/v3/videos:batchGetStats"


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=7, channels=400, keys=[KEY], quota_per_key=10**9, start_time=START)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def client(emu):
    emu.reset()
    return RawClient(emu.base_url)


@pytest.fixture(scope="module")
def entries(emu):
    return [e for e in emu.catalogue.sample(400) if not e["terminated"]]


def feed(client, **params):
    return client.get("/feeds/videos.xml", **params)


def parse(answer):
    return ET.fromstring(answer.body)


def when(text):
    return datetime.fromisoformat(text).timestamp()


def test_the_feed_lists_the_15_newest_published_videos_newest_first(emu, client, entries):
    """Given a channel with more than 15 videos, when its feed is fetched with no key, then it is Atom XML with 15 entries, newest publish time first, of that channel's videos."""
    entry = next(e for e in entries if len(e["video_ids"]) > 30)
    answer = feed(client, channel_id=entry["id"])
    assert answer.status == 200 and answer.headers["content-type"] == "text/xml; charset=UTF-8"
    root = parse(answer)
    assert root.findtext("yt:channelId", namespaces=NS) == entry["id"]
    assert root.findtext("a:title", namespaces=NS) == entry["title"]
    items = root.findall("a:entry", NS)
    assert len(items) == 15
    published = [when(item.findtext("a:published", namespaces=NS)) for item in items]
    assert published == sorted(published, reverse=True)
    truth = client.admin("GET", "videos", channel_id=entry["id"]).json["uploads"]
    newest = sorted(
        (v for v in truth if when(v["published_at"].replace("Z", "+00:00")) <= START.timestamp()),
        key=lambda v: v["published_at"],
        reverse=True,
    )[:15]
    assert [item.findtext("yt:videoId", namespaces=NS) for item in items] == [v["id"] for v in newest]
    for item in items:
        assert item.findtext("a:id", namespaces=NS) == "yt:video:" + item.findtext(
            "yt:videoId", namespaces=NS
        )
        assert item.findtext("yt:channelId", namespaces=NS) == entry["id"]
        assert when(item.findtext("a:updated", namespaces=NS)) >= when(
            item.findtext("a:published", namespaces=NS)
        )
        group = item.find("media:group", NS)
        assert group.findtext("media:title", namespaces=NS) == item.findtext("a:title", namespaces=NS)
        assert group.find("media:community/media:statistics", NS).get("views").isdigit()


def test_feed_views_are_the_api_views_and_cost_no_quota(emu, client, entries):
    """Given a feed and batchGetStats read at one instant, when compared, then each entry's views equal the API's viewCount, and the feed billed nothing."""
    entry = next(e for e in entries if len(e["video_ids"]) > 15)
    items = parse(feed(client, channel_id=entry["id"])).findall("a:entry", NS)
    views = {
        i.findtext("yt:videoId", namespaces=NS): i.find(
            "media:group/media:community/media:statistics", NS
        ).get("views")
        for i in items
    }
    usage = emu.usage()
    assert usage["requests_total"] == 0 and usage["units_total"] == 0
    assert usage["feeds"] == {"requests": 1, "by_status": {"200": 1}}
    stats = RawClient(emu.base_url, key=KEY).get(STATS, part="statistics", id=list(views)).json["items"]
    assert {i["id"]: i["statistics"]["viewCount"] for i in stats} == views


def test_a_feed_holds_shorts_and_leaves_out_unpublished_premieres(emu, client, entries):
    """Given a channel that uploads a Short and a premiere for tomorrow, when its feed is read minutes later and two days later, then the Short is first at once and the premiere joins once published."""
    entry = next(e for e in entries if e["video_ids"])
    short = client.admin("POST", "uploads", {"channel_id": entry["id"], "count": 1, "shorts": 1}).json[
        "video_ids"
    ][0]
    premiere = client.admin(
        "POST", "uploads", {"channel_id": entry["id"], "count": 1, "scheduled_seconds": 86_400}
    ).json["video_ids"][0]
    emu.advance_clock(timedelta(minutes=5))  # an upload is public a minute or two after it was added
    today = [
        i.findtext("yt:videoId", namespaces=NS)
        for i in parse(feed(client, channel_id=entry["id"])).findall("a:entry", NS)
    ]
    assert today[0] == short and premiere not in today
    emu.advance_clock(timedelta(days=2))
    later = [
        i.findtext("yt:videoId", namespaces=NS)
        for i in parse(feed(client, channel_id=entry["id"])).findall("a:entry", NS)
    ]
    assert later[:2] == [premiere, short]


def test_a_removed_video_leaves_the_feed(emu, client, entries):
    """Given a channel's newest video, when the admin API removes it, then the next feed no longer lists it."""
    entry = next(e for e in entries if len(e["video_ids"]) > 3)
    first = parse(feed(client, channel_id=entry["id"])).find("a:entry/yt:videoId", NS).text
    client.admin("POST", "remove", {"video_ids": [first]})
    ids = [
        i.findtext("yt:videoId", namespaces=NS)
        for i in parse(feed(client, channel_id=entry["id"])).findall("a:entry", NS)
    ]
    assert first not in ids and ids


def test_unknown_and_terminated_channels_are_404_and_empty_channels_an_empty_feed(emu, client, entries):
    """Given an unknown, a terminated and a no-video channel, when their feeds are fetched, then the first two are 404 HTML and the third a feed with no entries."""
    unknown = feed(client, channel_id="UC" + "A" * 21 + "w")
    assert unknown.status == 404 and unknown.headers["content-type"].startswith("text/html")
    dead = next(e for e in emu.catalogue.sample(400) if e["terminated"])
    assert feed(client, channel_id=dead["id"]).status == 404
    empty = next(e for e in entries if e["no_videos"])
    answer = feed(client, channel_id=empty["id"])
    assert answer.status == 200 and parse(answer).findall("a:entry", NS) == []
    assert feed(client).status == 404  # no channel named at all


def test_a_legacy_username_names_a_feed_too(emu, client, entries):
    """Given a channel's legacy username, when the feed is asked with ?user=, then it is that channel's feed."""
    entry = next(e for e in entries if e["username"])
    assert parse(feed(client, user=entry["username"])).findtext("yt:channelId", namespaces=NS) == entry["id"]


def test_a_feed_outage_lasts_until_its_end_on_the_emulator_clock(emu, client, entries):
    """Given a feed fault of 500s until 3 hours from now, when feeds are fetched now, in 2 hours and in 4, then the first two fail and the last answers, while the API keeps answering."""
    entry = next(e for e in entries if e["video_ids"])
    until = (START + timedelta(hours=3)).isoformat()
    plan = emu.set_faults({"faults": [{"endpoint": "feeds.videos", "kind": "backend_500", "until": until}]})
    assert plan["faults"][0]["until"] == until
    assert feed(client, channel_id=entry["id"]).status == 500
    api = RawClient(emu.base_url, key=KEY)
    assert api.get("/youtube/v3/channels", part="id", id=entry["id"]).status == 200
    emu.advance_clock(timedelta(hours=2))
    failed = feed(client, channel_id=entry["id"])
    assert failed.status == 500 and failed.headers["content-type"].startswith("text/html")
    emu.advance_clock(timedelta(hours=2))
    assert feed(client, channel_id=entry["id"]).status == 200
    assert emu.usage()["feeds"]["by_status"] == {"500": 2, "200": 1}


def test_a_feed_can_answer_404_for_a_while_or_drop_the_connection(emu, client, entries):
    """Given 2 not_found_404 faults then a drop on the feed, when fetched four times, then it answers 404, 404, drops, then 200."""
    entry = next(e for e in entries if e["video_ids"])
    emu.set_faults(
        [
            {"endpoint": "feeds.videos", "kind": "not_found_404", "count": 2},
            {"endpoint": "feeds.videos", "kind": "drop", "count": 1},
        ]
    )
    assert [feed(client, channel_id=entry["id"]).status for _ in range(2)] == [404, 404]
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        feed(client, channel_id=entry["id"])
    assert feed(client, channel_id=entry["id"]).status == 200


def test_feed_faults_do_not_touch_the_api(emu, client, entries):
    """Given a wildcard-free fault on the feed, when the API is called, then it answers normally and the fault is still there for the feed."""
    entry = next(e for e in entries if e["video_ids"])
    emu.set_faults([{"endpoint": "feeds.videos", "kind": "backend_503", "count": 1}])
    assert (
        RawClient(emu.base_url, key=KEY).get(STATS, part="statistics", id=entry["video_ids"][0]).status == 200
    )
    assert feed(client, channel_id=entry["id"]).status == 503
