"""The emulator's API methods over real HTTP: every fact of youtube-api.md about requests and answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from emulator import EmulatorConfig, EmulatorServer, round_3_significant
from emulator.testing import RawClient

KEY = "AIzaTestKeyForTheApiSuite000000000000000"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CHANNELS = "/youtube/v3/channels"
VIDEOS = "/youtube/v3/videos"
PLAYLISTS = "/youtube/v3/playlists"
ITEMS = "/youtube/v3/playlistItems"
SEARCH = "/youtube/v3/search"
ALL = "snippet,statistics,contentDetails"

PLAYLIST_NOT_FOUND = {"error": {"code": 404, "message": "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.", "errors": [{"message": "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.", "domain": "youtube.playlistItem", "reason": "playlistNotFound", "location": "playlistId", "locationType": "parameter"}]}}  # fmt: skip


@pytest.fixture(scope="module")
def emu():
    with EmulatorServer(
        EmulatorConfig(seed=7, channels=2000, keys=[KEY], quota_per_key=10**9, start_time=START)
    ) as server:
        yield server


@pytest.fixture
def api(emu):
    emu.reset()
    return RawClient(emu.base_url, key=KEY)


_SAMPLES: dict[tuple[int, int], list[dict]] = {}


def live(emu, n=400, **criteria):
    """Live channels among the first ``n`` of the catalogue, optionally filtered by entry fields."""
    key = (emu.config.seed, min(n, emu.config.channels))  # channel i is the same at any catalogue size
    if key not in _SAMPLES:
        _SAMPLES[key] = emu.catalogue.sample(n)
    entries = [e for e in _SAMPLES[key] if not e["terminated"]]
    return [e for e in entries if all(e.get(k) == v for k, v in criteria.items())]


def reason(answer):
    return answer.json["error"]["errors"][0]["reason"]


# --- channels.list by id -------------------------------------------------------------------------------
def test_fifty_ids_return_every_live_channel_keyed_by_id(emu, api):
    """Given 50 live channel ids, when channels.list asks for them, then all 50 come back, once each."""
    ids = [e["id"] for e in live(emu)[:50]]
    answer = api.get(CHANNELS, part=ALL, id=",".join(ids))
    assert answer.status == 200
    body = answer.json
    assert sorted(item["id"] for item in body["items"]) == sorted(ids)
    assert body["pageInfo"]["totalResults"] == 50
    assert body["kind"] == "youtube#channelListResponse" and body["etag"]


def test_unknown_and_terminated_ids_are_silently_left_out(emu, api):
    """Given a batch mixing live, terminated, well-shaped unknown and garbage ids, when channels.list answers, then only the live ones are in it."""
    good = [e["id"] for e in live(emu)[:3]]
    dead = emu.catalogue.find(limit=1, terminated=True)[0]["id"]
    unknown = "UC" + "A" * 21 + "w"
    answer = api.get(CHANNELS, part="id", id=",".join([good[0], dead, unknown, "nonsense", *good[1:]]))
    assert answer.status == 200
    assert sorted(item["id"] for item in answer.json["items"]) == sorted(good)


def test_item_order_is_not_the_request_order(emu, api):
    """Given ids asked in descending order, when answered, then the items come back in another order."""
    ids = sorted((e["id"] for e in live(emu)[:10]), reverse=True)
    answer = api.get(CHANNELS, part="id", id=",".join(ids))
    returned = [item["id"] for item in answer.json["items"]]
    assert sorted(returned) == sorted(ids) and returned != ids


def test_comma_list_and_repeated_parameters_are_the_same_request(emu, api):
    """Given ids as ``id=a%2Cb`` and as ``id=a&id=b`` (and parts both ways), when both are sent, then the answers hold the same items."""
    ids = [e["id"] for e in live(emu)[:4]]
    as_string = api.get(CHANNELS, part="snippet,statistics", id=",".join(ids)).json
    as_list = api.get(CHANNELS, part=["snippet", "statistics"], id=ids).json
    assert as_string["items"] == as_list["items"]


def test_duplicate_ids_answer_once(emu, api):
    """Given the same id three times in a batch, when channels.list answers, then it holds that channel once."""
    channel_id = live(emu)[0]["id"]
    answer = api.get(CHANNELS, part="id", id=[channel_id] * 3)
    assert [item["id"] for item in answer.json["items"]] == [channel_id]


def test_empty_channels_list_has_no_items_key(emu, api):
    """Given only unknown ids, when channels.list answers, then it is 200 with pageInfo 0/5 and no ``items`` key at all."""
    answer = api.get(CHANNELS, part="snippet", id="UC" + "B" * 21 + "Q")
    assert answer.status == 200
    body = answer.json
    assert set(body) == {"kind", "etag", "pageInfo"}
    assert body["kind"] == "youtube#channelListResponse"
    assert body["pageInfo"] == {"totalResults": 0, "resultsPerPage": 5}


def test_empty_videos_list_has_empty_items_and_zero_per_page(emu, api):
    """Given only unknown video ids, when videos.list answers, then ``items`` is [] and resultsPerPage is 0."""
    answer = api.get(VIDEOS, part="snippet", id="AAAAAAAAAAA")
    assert answer.status == 200
    assert answer.json["items"] == []
    assert answer.json["pageInfo"] == {"totalResults": 0, "resultsPerPage": 0}


# --- validation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [CHANNELS, VIDEOS, PLAYLISTS])
def test_more_than_fifty_ids_is_invalid_filters(emu, api, path):
    """Given 51 ids, when a list method is called, then it answers 400 invalidFilters."""
    answer = api.get(path, part="id", id=[f"UC{n:022d}" for n in range(51)])
    assert answer.status == 400 and reason(answer) == "invalidFilters"


def test_two_filters_is_invalid_criteria(emu, api):
    """Given both id and forHandle, when channels.list is called, then it answers 400 invalidCriteria."""
    answer = api.get(CHANNELS, part="id", id=live(emu)[0]["id"], forHandle="@someone")
    assert answer.status == 400 and reason(answer) == "invalidCriteria"


def test_no_filter_is_missing_required_parameter(emu, api):
    """Given no filter at all, when channels.list is called, then it answers 400 missingRequiredParameter."""
    answer = api.get(CHANNELS, part="snippet")
    assert answer.status == 400 and reason(answer) == "missingRequiredParameter"
    assert answer.json["error"]["message"].startswith("No filter selected. Expected one of:")
    assert "status" not in answer.json["error"]  # YouTube's own errors carry no platform status


@pytest.mark.parametrize(
    ("path", "filters"),
    [
        (CHANNELS, {"id": "x"}),
        (VIDEOS, {"id": "x"}),
        (PLAYLISTS, {"id": "x"}),
        (ITEMS, {"playlistId": "x"}),
        (SEARCH, {"q": "x"}),
    ],
)
def test_unknown_part_is_unknown_part(emu, api, path, filters):
    """Given part=snippet,bogus, when any method is called, then it answers 400 unknownPart naming the part."""
    answer = api.get(path, part="snippet,bogus", **filters)
    assert answer.status == 400 and reason(answer) == "unknownPart"
    assert answer.json["error"]["errors"][0]["domain"] == "youtube.part"
    assert answer.json["error"]["message"] == "'bogus'"


def test_every_documented_channel_part_is_accepted(emu, api):
    """Given the ten channel parts youtube-api.md lists, when asked together, then channels.list answers 200."""
    parts = "auditDetails,brandingSettings,contentDetails,contentOwnerDetails,id,localizations,snippet,statistics,status,topicDetails"
    answer = api.get(CHANNELS, part=parts, id=live(emu)[0]["id"])
    assert answer.status == 200 and answer.json["items"][0]["id"] == live(emu)[0]["id"]


@pytest.mark.parametrize(
    ("path", "params", "platform"),
    [
        (CHANNELS, {"part": "bogus", "id": "x"}, False),
        (CHANNELS, {"part": "id", "id": [f"UC{n:022d}" for n in range(51)]}, False),
        (CHANNELS, {"part": "id"}, False),
        (ITEMS, {"part": "id", "playlistId": "PLnope"}, False),
        (SEARCH, {"part": "id", "q": "a", "videoDuration": "short"}, False),
        (CHANNELS, {"part": "id", "id": "x", "colour": "blue"}, True),
        (CHANNELS, {"part": "id", "id": "x", "key": "AIzaSomeoneElsesKey"}, True),
    ],
)
def test_status_and_details_come_only_with_platform_errors(emu, api, path, params, platform):
    """Given YouTube's own errors and the platform's (an undeclared parameter, a bad key), when answered, then only the platform's carry status (and the key error details) in one envelope."""
    error = RawClient(emu.base_url, key=KEY).get(path, **params).json["error"]
    assert {"code", "message", "errors"} <= set(error) and error["errors"][0]["reason"]
    assert ("status" in error) is platform
    if not platform:
        assert "details" not in error


def test_missing_part_is_required(emu, api):
    """Given no part, when channels.list is called, then it answers 400 required for ``part``."""
    answer = api.get(CHANNELS, id=live(emu)[0]["id"])
    assert answer.status == 400 and reason(answer) == "required"
    assert answer.json["error"]["errors"][0]["location"] == "part"


@pytest.mark.parametrize("value", ["-1", "51", "1000", "abc"])
@pytest.mark.parametrize("path", [CHANNELS, ITEMS, SEARCH])
def test_max_results_outside_0_to_50_is_invalid_parameter(emu, api, path, value):
    """Given maxResults outside 0-50, when a list method is called, then it answers 400 invalidParameter."""
    uploads = live(emu, no_videos=False)[0]["uploads_playlist_id"]
    answer = api.get(
        path,
        part="id" if path != ITEMS else "snippet",
        id=live(emu)[0]["id"] if path == CHANNELS else None,
        playlistId=uploads if path == ITEMS else None,
        q="a" if path == SEARCH else None,
        maxResults=value,
    )
    assert answer.status == 400 and reason(answer) == "invalidParameter"
    assert answer.json["error"]["errors"][0]["location"] == "maxResults"


@pytest.mark.parametrize("value", ["0", "50"])
def test_max_results_at_the_bounds_is_accepted(emu, api, value):
    """Given maxResults 0 or 50, when channels.list is called by id, then it answers 200."""
    assert api.get(CHANNELS, part="id", id=live(emu)[0]["id"], maxResults=value).status == 200


def test_an_undeclared_parameter_is_refused(emu, api):
    """Given a parameter the method does not declare, when called, then Google's front end answers 400."""
    answer = api.get(CHANNELS, part="id", id=live(emu)[0]["id"], colour="blue")
    assert answer.status == 400 and answer.json["error"]["status"] == "INVALID_ARGUMENT"


def test_mine_with_an_api_key_needs_oauth(emu, api):
    """Given mine=true and only an API key, when channels.list is called, then it answers 401."""
    answer = api.get(CHANNELS, part="id", mine="true")
    assert answer.status == 401 and answer.json["error"]["status"] == "UNAUTHENTICATED"


# --- forHandle and forUsername --------------------------------------------------------------------------
def test_for_handle_with_or_without_at_in_any_case(emu, api):
    """Given a handle with and without @, lower, upper and mixed case, when forHandle asks for each, then each finds the same channel."""
    entry = live(emu, script="latin")[0]
    handle = entry["handle"]
    for variant in (handle, "@" + handle, handle.upper(), "@" + handle.lower(), handle.swapcase()):
        answer = api.get(CHANNELS, part=ALL, forHandle=variant)
        assert [item["id"] for item in answer.json["items"]] == [entry["id"]], variant


@pytest.mark.parametrize("script", ["ja", "ru", "ar", "hi", "ko"])
def test_for_handle_matches_non_latin_handles_percent_encoded(emu, api, script):
    """Given a non-Latin handle, when forHandle sends it percent-encoded (UTF-8), with @ or in another case, then it matches."""
    entry = next(e for e in emu.catalogue.find(limit=50, script=script, terminated=False))
    handle = entry["handle"]
    for variant in ("@" + handle, handle.upper(), handle.lower()):
        target = f"{CHANNELS}?part=id&forHandle={quote(variant, safe='')}&key={KEY}"
        answer = api.request("GET", target)
        assert [item["id"] for item in answer.json["items"]] == [entry["id"]], variant


def test_for_handle_can_be_case_sensitive():
    """Given handle_case_sensitive (the strict reading of an assumed fact), when forHandle asks the lowercased handle with and without @ and then another case, then only the lowercased forms match."""
    with EmulatorServer(EmulatorConfig(channels=300, handle_case_sensitive=True)) as strict:
        entry = next(
            e for e in live(strict, n=300, script="latin") if e["handle"].lower() != e["handle"].upper()
        )
        api = RawClient(strict.base_url, key="any")
        for variant in (entry["handle"].lower(), "@" + entry["handle"].lower()):
            assert [i["id"] for i in api.get(CHANNELS, part="id", forHandle=variant).json["items"]] == [
                entry["id"]
            ]
        assert "items" not in api.get(CHANNELS, part="id", forHandle=entry["handle"].upper()).json


def test_custom_url_is_the_lowercased_handle_with_at(emu, api):
    """Given a mixed-case handle, when its channel is fetched, then snippet.customUrl is ``@`` + the handle lowercased."""
    entry = next(e for e in live(emu) if e["handle"] != e["handle"].lower())
    item = api.get(CHANNELS, part="snippet", id=entry["id"]).json["items"][0]
    assert item["snippet"]["customUrl"] == "@" + entry["handle"].lower()


def test_for_username_matches_legacy_usernames_in_any_case(emu, api):
    """Given a channel's legacy username in another case, when forUsername asks for it, then it finds that channel."""
    entry = next(e for e in live(emu) if e["username"])
    answer = api.get(CHANNELS, part="id", forUsername=entry["username"].swapcase())
    assert [item["id"] for item in answer.json["items"]] == [entry["id"]]


def test_for_username_never_matches_a_handle(emu, api):
    """Given the handle of a channel that has no legacy username, when forUsername asks for it, then nothing matches."""
    entry = next(
        e for e in live(emu) if e["username"] is None and emu.catalogue.by_username(e["handle"]) is None
    )
    answer = api.get(CHANNELS, part="id", forUsername=entry["handle"])
    assert answer.status == 200 and "items" not in answer.json


def test_for_handle_never_matches_a_different_custom_name(emu, api):
    """Given a custom-URL name that differs from every handle, when forHandle asks for it, then nothing matches."""
    entry = next(
        e
        for e in emu.catalogue.find(limit=50, custom_differs=True, terminated=False)
        if emu.catalogue.by_handle(e["custom_name"]) is None
    )
    answer = api.get(CHANNELS, part="id", forHandle=entry["custom_name"])
    assert "items" not in answer.json


def test_terminated_channels_answer_nothing_by_any_lookup(emu, api):
    """Given a terminated channel, when looked up by id, handle, username or its videos, then nothing comes back."""
    dead = next(e for e in emu.catalogue.find(limit=200, terminated=True) if e["video_ids"])
    assert "items" not in api.get(CHANNELS, part="id", id=dead["id"]).json
    assert "items" not in api.get(CHANNELS, part="id", forHandle=dead["handle"]).json
    if dead["username"]:
        assert "items" not in api.get(CHANNELS, part="id", forUsername=dead["username"]).json
    assert api.get(VIDEOS, part="snippet", id=dead["video_ids"][:5]).json["items"] == []
    assert api.get(ITEMS, part="snippet", playlistId=dead["uploads_playlist_id"]).status == 404


# --- channel items --------------------------------------------------------------------------------------
def test_channel_item_has_the_documented_shape(emu, api):
    """Given a live channel with a country, when fetched with snippet,statistics,contentDetails, then every documented field has its type."""
    entry = next(e for e in live(emu) if e["country"] and not e["hidden"] and not e["no_videos"])
    item = api.get(CHANNELS, part=ALL, id=entry["id"]).json["items"][0]
    assert item["kind"] == "youtube#channel" and item["id"] == entry["id"] and len(item["etag"]) == 27
    snippet = item["snippet"]
    assert snippet["title"] == entry["title"]
    assert isinstance(snippet["description"], str)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", snippet["publishedAt"])
    assert snippet["country"] == entry["country"]
    assert set(snippet["thumbnails"]) == {"default", "medium", "high"}
    for thumb in snippet["thumbnails"].values():
        assert thumb["url"].startswith("https://") and isinstance(thumb["width"], int)
    assert snippet["localized"] == {"title": snippet["title"], "description": snippet["description"]}
    assert item["contentDetails"]["relatedPlaylists"] == {"likes": "", "uploads": "UU" + entry["id"][2:]}
    stats = item["statistics"]
    assert set(stats) == {"viewCount", "subscriberCount", "hiddenSubscriberCount", "videoCount"}
    for name in ("viewCount", "subscriberCount", "videoCount"):
        assert isinstance(stats[name], str) and stats[name].isdigit()
    assert stats["hiddenSubscriberCount"] is False
    assert int(stats["videoCount"]) == len(entry["video_ids"])


def test_country_is_absent_when_unset(emu, api):
    """Given a channel without a country, when fetched, then snippet has no ``country`` key."""
    entry = next(e for e in live(emu) if e["country"] is None)
    assert "country" not in api.get(CHANNELS, part="snippet", id=entry["id"]).json["items"][0]["snippet"]


@pytest.mark.parametrize(
    "parts",
    ["id", "snippet", "statistics", "contentDetails,statistics", "status,brandingSettings,topicDetails"],
)
def test_only_the_requested_parts_are_included(emu, api, parts):
    """Given a part list, when a channel is fetched, then exactly those parts (plus kind, etag, id) are present."""
    item = api.get(CHANNELS, part=parts, id=live(emu)[0]["id"]).json["items"][0]
    assert set(item) == {"kind", "etag", "id"} | (set(parts.split(",")) - {"id"})


def test_some_view_counts_exceed_two_to_the_31(emu, api):
    """Given the catalogue, when its channels are fetched in batches of 50, then some view count exceeds 2^31."""
    ids = [e["id"] for e in live(emu, n=2000)]
    biggest = 0
    for start in range(0, len(ids), 50):
        for item in api.get(CHANNELS, part="statistics", id=ids[start : start + 50]).json["items"]:
            biggest = max(biggest, int(item["statistics"]["viewCount"]))
    assert biggest > 2**31


def test_subscriber_count_is_rounded_down_to_three_significant_figures(emu, api):
    """Given channels with visible counts, when fetched, then subscriberCount is the exact count rounded down to 3 figures."""
    entries = [e for e in live(emu) if not e["hidden"]][:50]
    items = api.get(CHANNELS, part="statistics", id=[e["id"] for e in entries]).json["items"]
    seen_big = False
    for item in items:
        exact = emu.catalogue.statistics(item["id"], emu.now())["subscriberCount"]
        shown = int(item["statistics"]["subscriberCount"])
        assert shown == round_3_significant(exact) and shown <= exact
        seen_big |= exact >= 10_000 and shown != exact
    assert seen_big
    assert round_3_significant(123_456) == 123_000 and round_3_significant(999) == 999


def test_hidden_subscriber_count_is_omitted_by_default(emu, api):
    """Given a channel with hidden subscribers, when fetched, then subscriberCount is absent and hiddenSubscriberCount is true."""
    entry = next(e for e in live(emu) if e["hidden"])
    stats = api.get(CHANNELS, part="statistics", id=entry["id"]).json["items"][0]["statistics"]
    assert "subscriberCount" not in stats and stats["hiddenSubscriberCount"] is True


def test_hidden_subscriber_count_can_show_zero():
    """Given hidden_subscriber_mode="zero", when a hidden channel is fetched, then subscriberCount is "0"."""
    with EmulatorServer(EmulatorConfig(channels=300, hidden_subscriber_mode="zero")) as emu:
        entry = next(e for e in live(emu, n=300) if e["hidden"])
        answer = RawClient(emu.base_url, key="any").get(CHANNELS, part="statistics", id=entry["id"])
        assert answer.json["items"][0]["statistics"]["subscriberCount"] == "0"


def test_statistics_grow_with_the_emulator_clock(emu, api):
    """Given a channel, when the clock moves 30 days on, then its view count has grown."""
    entry = next(e for e in live(emu) if not e["no_videos"])
    before = int(
        api.get(CHANNELS, part="statistics", id=entry["id"]).json["items"][0]["statistics"]["viewCount"]
    )
    emu.advance_clock(timedelta(days=30))
    after = int(
        api.get(CHANNELS, part="statistics", id=entry["id"]).json["items"][0]["statistics"]["viewCount"]
    )
    assert after > before


def test_no_video_channels_show_video_count_zero(emu, api):
    """Given a channel with no public videos, when fetched, then videoCount is "0"."""
    entry = live(emu, no_videos=True)[0]
    stats = api.get(CHANNELS, part="statistics", id=entry["id"]).json["items"][0]["statistics"]
    assert stats["videoCount"] == "0"


def test_identifiers_have_the_real_shapes(emu):
    """Given the catalogue, when its ids are listed, then channel, video, playlist and uploads ids have the API's shapes."""
    for entry in emu.catalogue.sample(300):
        assert re.fullmatch(r"UC[A-Za-z0-9_-]{21}[AQgw]", entry["id"])
        assert entry["uploads_playlist_id"] == "UU" + entry["id"][2:]
        for video_id in entry["video_ids"]:
            assert re.fullmatch(r"[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]", video_id)
        for playlist_id in entry["playlist_ids"]:
            assert re.fullmatch(r"PL[A-Za-z0-9_-]{32}", playlist_id)


# --- videos and playlists -------------------------------------------------------------------------------
def test_videos_list_names_each_video_owner(emu, api):
    """Given videos of several channels, when videos.list fetches them, then snippet.channelId and channelTitle name the owner."""
    owners = {v: e for e in live(emu, no_videos=False)[:10] for v in e["video_ids"][:5]}
    items = api.get(VIDEOS, part="snippet,statistics,contentDetails", id=list(owners)[:50]).json["items"]
    assert len(items) == min(50, len(owners))
    for item in items:
        assert item["kind"] == "youtube#video"
        assert item["snippet"]["channelId"] == owners[item["id"]]["id"]
        assert item["snippet"]["channelTitle"] == owners[item["id"]]["title"]
        assert item["statistics"]["viewCount"].isdigit()


def test_playlists_list_names_each_playlist_owner(emu, api):
    """Given playlists of several channels, when playlists.list fetches them, then snippet.channelId names the owner."""
    owners = {p: e for e in live(emu, no_videos=False)[:10] for p in e["playlist_ids"]}
    body = api.get(PLAYLISTS, part="snippet,contentDetails", id=list(owners)).json
    assert {item["id"] for item in body["items"]} == set(owners)
    for item in body["items"]:
        assert item["snippet"]["channelId"] == owners[item["id"]]["id"]
        assert item["snippet"]["channelTitle"] == owners[item["id"]]["title"]


def test_playlists_list_by_channel_id_pages(emu, api):
    """Given a channel with several playlists, when listed by channelId one per page, then the pages hold all of them."""
    entry = next(e for e in live(emu) if len(e["playlist_ids"]) >= 2)
    seen, token = [], None
    while True:
        body = api.get(PLAYLISTS, part="id", channelId=entry["id"], maxResults=1, pageToken=token).json
        seen += [item["id"] for item in body["items"]]
        token = body.get("nextPageToken")
        if not token:
            break
    assert sorted(seen) == sorted(entry["playlist_ids"])


# --- playlistItems.list ---------------------------------------------------------------------------------
def test_uploads_playlist_pages_through_every_video_newest_first(emu, api):
    """Given a channel with many videos, when its uploads are listed 7 per page, then the pages hold every video once, newest first."""
    entry = next(e for e in live(emu, n=2000) if len(e["video_ids"]) > 20)
    seen, token, pages = [], None, 0
    while True:
        body = api.get(
            ITEMS,
            part="snippet,contentDetails",
            playlistId=entry["uploads_playlist_id"],
            maxResults=7,
            pageToken=token,
        ).json
        pages += 1
        assert body["pageInfo"] == {"totalResults": len(entry["video_ids"]), "resultsPerPage": 7}
        for item in body["items"]:
            assert item["snippet"]["resourceId"]["kind"] == "youtube#video"
            assert item["snippet"]["videoOwnerChannelId"] == entry["id"]
            seen.append(item["contentDetails"]["videoId"])
        token = body.get("nextPageToken")
        if not token:
            break
    assert seen == list(reversed(entry["video_ids"]))
    assert pages == -(-len(entry["video_ids"]) // 7)


def test_uploads_of_a_channel_without_public_videos_is_playlist_not_found(emu, api):
    """Given a channel with no public videos, when its uploads playlist is listed, then the verbatim 404 playlistNotFound comes back."""
    entry = live(emu, no_videos=True)[0]
    answer = api.get(ITEMS, part="snippet", playlistId=entry["uploads_playlist_id"])
    assert answer.status == 404 and answer.json == PLAYLIST_NOT_FOUND


def test_unknown_playlist_is_playlist_not_found(emu, api):
    """Given a playlist id nobody owns, when listed, then the verbatim 404 playlistNotFound comes back."""
    answer = api.get(ITEMS, part="snippet", playlistId="PL" + "x" * 32)
    assert answer.status == 404 and answer.json == PLAYLIST_NOT_FOUND


def test_playlist_items_need_a_playlist_id(emu, api):
    """Given no playlistId, when playlistItems.list is called, then it answers 400 missingRequiredParameter."""
    answer = api.get(ITEMS, part="snippet")
    assert answer.status == 400 and reason(answer) == "missingRequiredParameter"


def test_a_bad_page_token_is_refused(emu, api):
    """Given a page token the API never issued, when used, then it answers 400 invalidPageToken."""
    entry = live(emu, no_videos=False)[0]
    answer = api.get(ITEMS, part="id", playlistId=entry["uploads_playlist_id"], pageToken="!!not-a-token!!")
    assert answer.status == 400 and reason(answer) == "invalidPageToken"


# --- search.list ----------------------------------------------------------------------------------------
def test_search_finds_channels_by_title_words(emu, api):
    """Given a channel's title, when search.list looks for it with type=channel, then that channel is among the hits."""
    entry = live(emu, script="latin")[3]
    body = api.get(SEARCH, part="snippet", q=entry["title"], type="channel", maxResults=50).json
    assert body["kind"] == "youtube#searchListResponse"
    hits = [item["id"]["channelId"] for item in body["items"]]
    assert entry["id"] in hits
    assert all(item["id"]["kind"] == "youtube#channel" for item in body["items"])
    assert body["items"][0]["snippet"]["channelTitle"]


def test_search_finds_a_custom_name_first(emu, api):
    """Given a custom-URL name that differs from the handle, when searched, then its channel comes first."""
    entry = next(e for e in emu.catalogue.find(limit=50, custom_differs=True, terminated=False))
    body = api.get(SEARCH, part="id", q=entry["custom_name"], type="channel").json
    assert body["items"][0]["id"]["channelId"] == entry["id"]


# --- the POST form of long requests ---------------------------------------------------------------------
def test_post_with_method_override_reads_the_query_from_the_body(emu, api):
    """Given the query (key included) in a form body, when POSTed with X-HTTP-Method-Override: GET, then it answers as the GET would."""
    ids = [e["id"] for e in live(emu)[:50]]
    posted = api.post_override(CHANNELS, part=ALL, id=",".join(ids))
    got = api.get(CHANNELS, part=ALL, id=",".join(ids))
    assert posted.status == 200 and posted.json["items"] == got.json["items"]
    assert emu.usage()["by_verb"] == {"POST": 1, "GET": 1}


def test_post_without_the_override_is_not_a_list_call(emu, api):
    """Given a plain POST, when sent to a list method, then it is refused."""
    answer = api.request("POST", f"{CHANNELS}?part=id&id=x&key={KEY}", body=b"")
    assert answer.status == 404


def test_answers_are_json_in_utf8(emu, api):
    """Given a non-Latin channel, when fetched, then the answer is application/json with raw UTF-8 text."""
    entry = emu.catalogue.find(limit=1, script="ja", terminated=False)[0]
    answer = api.get(CHANNELS, part="snippet", id=entry["id"])
    assert answer.headers["content-type"] == "application/json; charset=UTF-8"
    assert entry["title"].encode() in answer.body


def test_answers_carry_one_server_header_and_a_date(emu, api):
    """Given any API call, when answered, then the headers hold one ``server`` (ESF, as Google's) and a ``date``."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    try:
        conn.request("GET", f"{CHANNELS}?part=id&id=x&key={KEY}")
        answer = conn.getresponse()
        answer.read()
        names = [name.lower() for name, _ in answer.getheaders()]
    finally:
        conn.close()
    assert names.count("server") == 1 and answer.getheader("server") == "ESF"
    assert "date" in names


# --- validation the real API does ---------------------------------------------------------------------
@pytest.mark.parametrize("value", ["0", "51", "-3"])
def test_videos_list_max_results_is_one_to_fifty(emu, api, value):
    """Given maxResults outside 1-50 (0 included, which the other list methods take), when videos.list is called, then it answers 400 naming the range [1, 50]."""
    video = live(emu, no_videos=False)[0]["video_ids"][0]
    answer = api.get(VIDEOS, part="id", id=video, maxResults=value)
    assert answer.status == 400 and reason(answer) == "invalidParameter"
    assert (
        answer.json["error"]["message"]
        == f"Invalid value '{value}'. Values must be within the range: [1, 50]"
    )
    assert api.get(VIDEOS, part="id", id=video, maxResults="1").status == 200


@pytest.mark.parametrize(
    "search_filter",
    [
        {"videoDuration": "short"},
        {"videoDefinition": "high"},
        {"videoCaption": "closedCaption"},
        {"videoType": "episode"},
        {"videoLicense": "creativeCommon"},
        {"eventType": "upcoming"},
        {"videoEmbeddable": "true"},
    ],
)
@pytest.mark.parametrize("types", [None, "channel", "video,channel"])
def test_video_only_search_filters_need_type_video(emu, api, search_filter, types):
    """Given a video-only search filter with no type, type=channel or type=video,channel, when searched, then it is 400 invalidSearchFilter; with type=video it is served."""
    answer = api.get(SEARCH, part="id", q="coffee", type=types, **search_filter)
    assert answer.status == 400 and reason(answer) == "invalidSearchFilter"
    assert answer.json["error"]["errors"][0]["domain"] == "youtube.search"
    assert b"\\u003ccode\\u003etype\\u003c/code\\u003e" in answer.body  # escaped as Google's front end does
    assert api.get(SEARCH, part="id", q="coffee", type="video", **search_filter).status == 200


@pytest.mark.parametrize(
    ("path", "name", "extra"),
    [
        (SEARCH, "order", {"q": "coffee"}),
        (SEARCH, "safeSearch", {"q": "coffee"}),
        (SEARCH, "videoDuration", {"q": "coffee", "type": "video"}),
        (VIDEOS, "chart", {}),
    ],
)
def test_unknown_enum_values_are_invalid_parameter(emu, api, path, name, extra):
    """Given an enum parameter with a value it does not take, when called, then it answers 400 invalidParameter naming the parameter and its allowed values."""
    answer = api.get(path, part="id", **{name: "sideways"}, **extra)
    assert answer.status == 400 and reason(answer) == "invalidParameter"
    error = answer.json["error"]["errors"][0]
    assert error["location"] == name and error["domain"] == "global"
    assert error["message"].startswith("Invalid string value: 'sideways'. Allowed values: [")


def test_enum_values_are_matched_without_regard_to_case(emu, api):
    """Given order=viewcount and safeSearch=STRICT, when searched, then the request is served."""
    assert api.get(SEARCH, part="id", q="coffee", order="viewcount", safeSearch="STRICT").status == 200
    assert api.get(VIDEOS, part="id", chart="mostPopular").status == 200


@pytest.mark.parametrize("path", [CHANNELS, VIDEOS])
def test_a_garbage_page_token_is_invalid_page_token_on_lookups_too(emu, api, path):
    """Given a page token the API never issued, when channels.list or videos.list is called with it, then it answers 400 invalidPageToken; a real token is taken."""
    lookup = (
        {"id": live(emu)[0]["id"]}
        if path == CHANNELS
        else {"id": live(emu, no_videos=False)[0]["video_ids"][0]}
    )
    answer = api.get(path, part="id", pageToken="garbage!!", **lookup)
    assert answer.status == 400 and reason(answer) == "invalidPageToken"
    assert api.get(path, part="id", pageToken="CAUQAA", **lookup).status == 200


def test_search_refuses_bad_types_dates_and_oauth_filters(emu, api):
    """Given type=episode, a publishedAfter that is no date-time, or forMine=true with a key, when searched, then the answers are 400, 400 and 401."""
    assert reason(api.get(SEARCH, part="id", q="a", type="episode")) == "invalidParameter"
    bad_date = api.get(SEARCH, part="id", q="a", publishedAfter="yesterday")
    assert bad_date.status == 400 and bad_date.json["error"]["errors"][0]["location"] == "publishedAfter"
    assert api.get(SEARCH, part="id", q="a", publishedBefore="2026-01-01").status == 400  # a date, no time
    assert api.get(SEARCH, part="id", q="a", forMine="true", type="video").status == 401


# --- fields: partial responses ------------------------------------------------------------------------
def test_fields_selects_nested_properties(emu, api):
    """Given fields=items(id,snippet/title),pageInfo, when channels are fetched, then only those properties remain."""
    ids = [e["id"] for e in live(emu)[:3]]
    body = api.get(
        CHANNELS, part="snippet,statistics", id=ids, fields="items(id,snippet/title),pageInfo"
    ).json
    assert set(body) == {"items", "pageInfo"}
    assert {item["id"] for item in body["items"]} == set(ids)
    assert all(set(item) == {"id", "snippet"} and set(item["snippet"]) == {"title"} for item in body["items"])


@pytest.mark.parametrize(
    "spec",
    ["items/id,items/snippet/title", "items(id,snippet/title)", "items(id,snippet(title))"],
)
def test_equivalent_field_selections_give_the_same_answer(emu, api, spec):
    """Given the three spellings of one selection from Google's docs, when used, then each answers the same document."""
    ids = [e["id"] for e in live(emu)[:3]]
    body = api.get(CHANNELS, part="snippet", id=ids, fields=spec).json
    assert sorted(body["items"], key=lambda i: i["id"]) == sorted(
        ({"id": e["id"], "snippet": {"title": e["title"]}} for e in live(emu)[:3]), key=lambda i: i["id"]
    )


def test_fields_wildcard_keeps_every_property_at_its_level(emu, api):
    """Given fields=items(id,statistics/*), when a channel is fetched, then its statistics are whole and nothing else is there."""
    entry = live(emu)[0]
    full = api.get(CHANNELS, part="snippet,statistics", id=entry["id"]).json["items"][0]
    body = api.get(CHANNELS, part="snippet,statistics", id=entry["id"], fields="items(id,statistics/*)").json
    assert body == {"items": [{"id": entry["id"], "statistics": full["statistics"]}]}


@pytest.mark.parametrize("spec", ["items(id", "items)", "items//id", ",items", "items(id,)", "it ems!"])
def test_a_malformed_field_selection_is_a_400(emu, api, spec):
    """Given a fields value that does not parse, when called, then it answers 400 invalidParameter "Invalid field selection" and is billed like any 400."""
    answer = api.get(CHANNELS, part="id", id=live(emu)[0]["id"], fields=spec)
    assert answer.status == 400 and reason(answer) == "invalidParameter"
    assert answer.json["error"]["errors"][0]["location"] == "fields"
    assert answer.json["error"]["message"].startswith("Invalid field selection")
    assert emu.usage()["units_total"] == 1


def test_fields_leave_error_answers_whole(emu, api):
    """Given fields=items(id) on a request with an unknown part, when it fails, then the whole error envelope comes back."""
    answer = api.get(CHANNELS, part="bogus", id=live(emu)[0]["id"], fields="items(id)")
    assert answer.status == 400 and reason(answer) == "unknownPart" and answer.json["error"]["code"] == 400
