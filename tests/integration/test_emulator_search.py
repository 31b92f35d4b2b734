"""``search.list`` over the keyword catalogue, over real HTTP: matching, types, order, windows, paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from emulator import EmulatorConfig, EmulatorServer
from emulator.catalogue import fold
from emulator.testing import RawClient

KEY = "AIzaTestSearchSuiteKey000000000000000000"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SEARCH = "/youtube/v3/search"
VIDEOS = "/youtube/v3/videos"
CHANNELS = "/youtube/v3/channels"
PLAYLISTS = "/youtube/v3/playlists"
ID_FIELD = {"youtube#video": "videoId", "youtube#channel": "channelId", "youtube#playlist": "playlistId"}


def config(**overrides):
    return EmulatorConfig(
        seed=7,
        channels=2000,
        keys=[KEY],
        search_quota_per_key=10**6,
        start_time=START,
        **overrides,
    )


@pytest.fixture(scope="module")
def emu():
    with EmulatorServer(config()) as server:
        yield server


@pytest.fixture
def api(emu):
    emu.reset()
    return RawClient(emu.base_url, key=KEY)


@pytest.fixture(scope="module")
def niches(emu):
    return RawClient(emu.base_url).admin("GET", "keywords").json["niches"]


def every_page(api, per_page=50, **params):
    """Every item of a search, following nextPageToken; also the pages' sizes."""
    items, sizes, token = [], [], None
    while True:
        body = api.get(SEARCH, part="snippet", maxResults=per_page, pageToken=token, **params).json
        items += body["items"]
        sizes.append(len(body["items"]))
        token = body.get("nextPageToken")
        if not token:
            return items, sizes, body


def item_id(item):
    return item["id"][ID_FIELD[item["id"]["kind"]]]


def video_texts(api, ids):
    """``{video id: folded title + description}`` from videos.list, 50 at a time."""
    texts = {}
    for start in range(0, len(ids), 50):
        for video in api.get(VIDEOS, part="snippet", id=ids[start : start + 50]).json["items"]:
            texts[video["id"]] = fold(video["snippet"]["title"] + " " + video["snippet"]["description"])
    return texts


def test_a_niche_keyword_finds_videos_of_several_channels_of_that_niche(emu, api, niches):
    """Given the keyword "espresso", when videos are searched, then several channels' videos are found, each saying "espresso" and each from a coffee channel."""
    items, _, body = every_page(api, q="espresso", type="video")
    assert body["pageInfo"]["totalResults"] == len(items) >= 20
    channels = {item["snippet"]["channelId"] for item in items}
    assert len(channels) >= 5
    assert channels <= set(niches["coffee"]["channels"])
    texts = video_texts(api, [item_id(item) for item in items])
    assert len(texts) == len(items) and all("espresso" in text for text in texts.values())


def test_a_two_word_keyword_needs_both_words(emu, api):
    """Given "budget travel", when videos are searched, then every hit has both words and they come from several channels of more than one niche."""
    items, _, _ = every_page(api, q="budget travel", type="video")
    texts = video_texts(api, [item_id(item) for item in items])
    assert texts and all("budget" in t and "travel" in t for t in texts.values())
    owners = {item["snippet"]["channelId"] for item in items}
    niche_of = {e["id"]: e["niche"] for e in emu.catalogue.sample(2000)}
    assert len(owners) >= 5 and len({niche_of[c] for c in owners}) >= 2  # travel and camping channels


def test_channels_are_found_by_the_keywords_of_their_descriptions(emu, api):
    """Given a niche keyword, when channels are searched, then the hits are channels whose title or description says it."""
    items, _, _ = every_page(api, q="latte art", type="channel")
    assert items and all(item["id"]["kind"] == "youtube#channel" for item in items)
    ids = [item_id(item) for item in items]
    found = api.get(CHANNELS, part="snippet", id=ids[:50]).json["items"]
    for channel in found:
        text = fold(channel["snippet"]["title"] + " " + channel["snippet"]["description"])
        assert "latte" in text and "art" in text


def test_default_types_mix_videos_channels_and_playlists_in_the_real_shape(emu, api):
    """Given no type, when a niche keyword is searched, then videos, channels and playlists come back as youtube#searchResult with the snippet the API gives."""
    items, _, body = every_page(api, q="sourdough")
    assert body["kind"] == "youtube#searchListResponse" and body["regionCode"] == "US"
    assert {item["id"]["kind"] for item in items} == set(ID_FIELD)
    for item in items:
        assert item["kind"] == "youtube#searchResult" and len(item["etag"]) == 27
        assert set(item["id"]) == {"kind", ID_FIELD[item["id"]["kind"]]}
        snippet = item["snippet"]
        assert {
            "publishedAt",
            "channelId",
            "title",
            "description",
            "thumbnails",
            "channelTitle",
            "liveBroadcastContent",
            "publishTime",
        } <= set(snippet)
        assert snippet["publishedAt"] == snippet["publishTime"] and snippet["channelId"].startswith("UC")
    assert items[0]["id"]["kind"] == "youtube#video"  # most of what a search shows is videos


def test_playlist_hits_belong_to_their_channels(emu, api):
    """Given type=playlist, when a keyword is searched, then only playlists come back and playlists.list names the same channel for each."""
    items, _, _ = every_page(api, q="woodworking", type="playlist")
    assert items and {item["id"]["kind"] for item in items} == {"youtube#playlist"}
    owners = {item_id(i): i["snippet"]["channelId"] for i in items[:50]}
    listed = api.get(PLAYLISTS, part="snippet", id=list(owners)).json["items"]
    assert {p["id"]: p["snippet"]["channelId"] for p in listed} == owners


def test_relevance_puts_title_matches_first(emu, api):
    """Given order=relevance (the default), when "cold brew" is searched, then the first hits say it in their title."""
    body = api.get(SEARCH, part="snippet", q="cold brew", type="video", maxResults=10).json
    assert body["items"] and all("cold brew" in fold(i["snippet"]["title"]) for i in body["items"])


def test_order_date_is_newest_first_across_pages(emu, api):
    """Given order=date, when every page of a search is read, then publishedAt never increases."""
    items, sizes, _ = every_page(api, per_page=20, q="minecraft", order="date")
    assert len(sizes) >= 2
    dates = [item["snippet"]["publishedAt"] for item in items]
    assert dates == sorted(dates, reverse=True)


def test_order_view_count_is_most_viewed_first(emu, api):
    """Given order=viewCount and type=video, when searched, then the hits' viewCount (from videos.list) never increases."""
    items, _, _ = every_page(api, q="home workout", type="video", order="viewCount")
    ids = [item_id(item) for item in items][:50]
    views = {
        v["id"]: int(v["statistics"]["viewCount"])
        for v in api.get(VIDEOS, part="statistics", id=ids).json["items"]
    }
    ordered = [views[i] for i in ids]
    assert len(ordered) >= 10 and ordered == sorted(ordered, reverse=True)


def test_order_title_and_video_count(emu, api):
    """Given order=title, then hits are in title order; given order=videoCount and type=channel, then channels with more videos come first."""
    items, _, _ = every_page(api, q="chess", type="video", order="title")
    titles = [fold(item["snippet"]["title"]) for item in items]
    assert titles == sorted(titles)
    channels, _, _ = every_page(api, q="chess", type="channel", order="videoCount")
    ids = [item_id(item) for item in channels][:50]
    counts = {
        c["id"]: int(c["statistics"]["videoCount"])
        for c in api.get(CHANNELS, part="statistics", id=ids).json["items"]
    }
    assert [counts[i] for i in ids] == sorted(counts.values(), reverse=True)


def test_published_after_and_before_bound_the_hits(emu, api):
    """Given a 90-day window, when searched with publishedAfter and publishedBefore, then every hit is inside it and the window has fewer hits than the whole."""
    after, before = START - timedelta(days=120), START - timedelta(days=30)
    everything, _, _ = every_page(api, q="guitar", type="video")
    window, _, _ = every_page(
        api,
        q="guitar",
        type="video",
        publishedAfter=after.isoformat().replace("+00:00", "Z"),
        publishedBefore=before.isoformat().replace("+00:00", "Z"),
    )
    assert 0 < len(window) < len(everything)
    for item in window:
        moment = datetime.fromisoformat(item["snippet"]["publishedAt"].replace("Z", "+00:00"))
        assert after <= moment < before


def test_channel_id_restricts_the_search_to_one_channel(emu, api):
    """Given a channel's id and no q, when searched, then every hit is that channel, its videos or its playlists; an unknown channel finds nothing."""
    entry = next(e for e in emu.catalogue.sample(300) if len(e["video_ids"]) > 5 and not e["terminated"])
    items, _, _ = every_page(api, channelId=entry["id"])
    assert {item["snippet"]["channelId"] for item in items} == {entry["id"]}
    found = {item_id(i) for i in items}
    assert set(entry["video_ids"]) <= found and entry["id"] in found and set(entry["playlist_ids"]) <= found
    body = api.get(SEARCH, part="snippet", channelId="UC" + "A" * 21 + "w").json
    assert body["items"] == [] and body["pageInfo"]["totalResults"] == 0


def test_paging_visits_every_hit_once(emu, api):
    """Given a search with more hits than a page, when pages of 7 are followed, then they hold totalResults hits, no duplicate, with prevPageToken from page 2 and no nextPageToken at the end."""
    first = api.get(SEARCH, part="id", q="speedrun", maxResults=7).json
    assert "prevPageToken" not in first and first["nextPageToken"]
    second = api.get(SEARCH, part="id", q="speedrun", maxResults=7, pageToken=first["nextPageToken"]).json
    assert second["prevPageToken"]
    items, sizes, last = every_page(api, per_page=7, q="speedrun")
    ids = [item_id(i) for i in items]
    assert len(ids) == len(set(ids)) == first["pageInfo"]["totalResults"]
    assert all(size == 7 for size in sizes[:-1]) and "nextPageToken" not in last


def test_max_results_zero_counts_without_items(emu, api):
    """Given maxResults=0, when searched, then items is empty and totalResults still counts the hits."""
    body = api.get(SEARCH, part="id", q="espresso", maxResults=0).json
    assert body["items"] == [] and body["pageInfo"]["totalResults"] > 0 and "nextPageToken" not in body


def test_region_code_and_relevance_language_are_accepted(emu, api):
    """Given regionCode=DE and relevanceLanguage=de, when searched, then it is served and the answer names region DE."""
    answer = api.get(SEARCH, part="id", q="espresso", regionCode="de", relevanceLanguage="de")
    assert answer.status == 200 and answer.json["regionCode"] == "DE"


def test_video_filters_apply_with_type_video(emu, api):
    """Given type=video with videoDuration=short, then every hit is under 4 minutes; with videoDuration=long, every hit is over 20."""
    for size, check in (("short", lambda s: s < 240), ("long", lambda s: s > 1200)):
        items, _, _ = every_page(api, q="yoga", type="video", videoDuration=size)
        ids = [item_id(i) for i in items][:50]
        assert ids
        stats = api.get("/youtube/v3/videos:batchGetStats", part="contentDetails", id=ids).json["items"]
        assert all(check(int(i["contentDetails"]["durationMillis"]) / 1000) for i in stats)


def test_event_type_upcoming_finds_premieres_not_yet_published(emu, api):
    """Given a premiere scheduled tomorrow, when searched with type=video&eventType=upcoming, then it is among the hits, marked upcoming, and gone from them once published."""
    entry = next(e for e in emu.catalogue.sample(100) if e["video_ids"] and e["niche"] == "coffee")
    video = (
        RawClient(emu.base_url)
        .admin("POST", "uploads", {"channel_id": entry["id"], "scheduled_seconds": 86_400})
        .json["video_ids"][0]
    )
    items, _, _ = every_page(api, channelId=entry["id"], type="video", eventType="upcoming")
    assert video in [item_id(i) for i in items]
    assert all(i["snippet"]["liveBroadcastContent"] == "upcoming" for i in items)
    emu.advance_clock(timedelta(days=2))
    items, _, _ = every_page(api, channelId=entry["id"], type="video", eventType="upcoming")
    assert video not in [item_id(i) for i in items]


def test_new_uploads_are_found_by_search(emu, api):
    """Given a coffee channel that uploads now, when "espresso" videos of that channel are searched, then the new ones are among them."""
    entry = next(e for e in emu.catalogue.sample(100) if e["video_ids"] and e["niche"] == "coffee")
    added = (
        RawClient(emu.base_url)
        .admin("POST", "uploads", {"channel_id": entry["id"], "count": 3})
        .json["video_ids"]
    )
    items, _, _ = every_page(api, channelId=entry["id"], type="video", order="date")
    assert {item_id(i) for i in items[:3]} == set(
        added
    )  # the newest, whatever their few seconds of processing


def test_non_latin_titles_are_searchable(emu, api):
    """Given a Japanese channel's title, when channels are searched for it, then that channel is found."""
    entry = next(e for e in emu.catalogue.sample(2000) if e["script"] == "ja" and not e["terminated"])
    items, _, _ = every_page(api, q=entry["title"], type="channel")
    assert entry["id"] in [item_id(i) for i in items]


def test_the_admin_search_is_what_search_list_pages_through(emu, api):
    """Given GET /_emulator/search for a query, when search.list's pages are read, then they list the same results in the same order."""
    truth = RawClient(emu.base_url).admin("GET", "search", q="pour over", type="video,channel").json
    items, _, _ = every_page(api, q="pour over", type="video,channel")
    assert [h["id"] for h in truth["hits"]] == [item_id(i) for i in items]
    assert truth["total"] == len(items) and {h["kind"] for h in truth["hits"]} <= {"video", "channel"}


def test_the_same_seed_and_start_search_the_same():
    """Given two emulators with one seed and start, when both search one keyword, then the answers are identical."""
    bodies = []
    for _ in range(2):
        with EmulatorServer(config()) as emu:
            bodies.append(
                RawClient(emu.base_url, key=KEY)
                .get(SEARCH, part="snippet", q="lofi beats", maxResults=50)
                .body
            )
    assert bodies[0] == bodies[1]
