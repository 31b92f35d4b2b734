"""Keys, costs and daily quota of the emulator over real HTTP, with the Pacific day turned by its clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from emulator import EmulatorConfig, EmulatorServer, fingerprint
from emulator.testing import RawClient

CHANNELS = "/youtube/v3/channels"
SEARCH = "/youtube/v3/search"
K1, K2, K3 = (
    "AIzaTestKeyOne1111111111111111111111111",
    "AIzaTestKeyTwo2222222222222222222222222",
    "AIzaKeyThree",
)
BAD, OFF = "AIzaTestInvalidKey000000000000000000000", "AIzaTestDisabledKey00000000000000000000"
BLOCKED, ELSEWHERE = "AIzaTestServiceBlockedKey00000000000000", "AIzaTestReferrerBlockedKey0000000000000"

QUOTA_EXCEEDED = {"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "errors": [{"message": "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}  # fmt: skip
API_KEY_INVALID = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "errors": [{"message": "API key not valid. Please pass a valid API key.", "domain": "global", "reason": "badRequest"}], "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}, {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": "API key not valid. Please pass a valid API key."}]}}  # fmt: skip
# Verbatim as the shared doc has it (\u003c escapes and all), compared as bytes below.
QUOTA_EXCEEDED_RAW = rb'{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your \u003ca href=\"/youtube/v3/getting-started#quota\"\u003equota\u003c/a\u003e.","errors":[{"message":"The request cannot be completed because you have exceeded your \u003ca href=\"/youtube/v3/getting-started#quota\"\u003equota\u003c/a\u003e.","domain":"youtube.quota","reason":"quotaExceeded"}]}}'  # fmt: skip
# 12:00 UTC on 2026-11-21 is 04:00 in Los Angeles (PST, UTC-8).
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def server(**overrides):
    config = {
        "seed": 7,
        "channels": 200,
        "keys": [K1, K2, K3],
        "invalid_keys": [BAD],
        "disabled_keys": [OFF],
        "restricted_keys": [BLOCKED],
        "referrer_blocked_keys": [ELSEWHERE],
        "quota_per_key": 5,
        "start_time": START,
        **overrides,
    }
    return EmulatorServer(EmulatorConfig(**config))


@pytest.fixture(scope="module")
def emu():
    with server() as running:
        yield running


@pytest.fixture
def ids(emu):
    emu.reset()
    return [e["id"] for e in emu.catalogue.sample(10) if not e["terminated"]]


def call(emu, key, **params):
    params = {"part": "id", "id": emu.catalogue.sample(1)[0]["id"], **params}
    return RawClient(emu.base_url, key=key).get(CHANNELS, **params)


# --- keys -----------------------------------------------------------------------------------------------
def test_missing_key_is_the_platform_permission_denied(emu, ids):
    """Given no key, when a method is called, then it answers 403 "missing a valid API key" with status PERMISSION_DENIED."""
    answer = RawClient(emu.base_url).get(CHANNELS, part="id", id=ids[0])
    assert answer.status == 403
    error = answer.json["error"]
    assert error["message"] == "The request is missing a valid API key."
    assert error["errors"][0]["reason"] == "forbidden" and error["status"] == "PERMISSION_DENIED"
    assert emu.usage()["units_total"] == 0


def test_invalid_key_is_the_verbatim_api_key_invalid(emu, ids):
    """Given an invalid key, when a method is called, then the verbatim 400 API_KEY_INVALID body comes back."""
    answer = call(emu, BAD)
    assert answer.status == 400 and answer.json == API_KEY_INVALID


def test_an_unknown_key_is_invalid_when_keys_are_configured(emu, ids):
    """Given configured keys, when a key nobody configured is used, then it is API_KEY_INVALID too."""
    answer = call(emu, "AIzaSomethingElse")
    assert answer.status == 400 and answer.json == API_KEY_INVALID


def test_disabled_key_is_access_not_configured(emu, ids):
    """Given a key whose project has the API disabled, when it calls, then it answers 403 accessNotConfigured with SERVICE_DISABLED."""
    answer = call(emu, OFF)
    assert answer.status == 403
    error = answer.json["error"]
    assert error["errors"][0]["reason"] == "accessNotConfigured"
    assert error["errors"][0]["domain"] == "usageLimits"
    assert error["status"] == "PERMISSION_DENIED"
    assert "SERVICE_DISABLED" in [d.get("reason") for d in error["details"]]


@pytest.mark.parametrize(
    ("key", "detail"),
    [(BLOCKED, "API_KEY_SERVICE_BLOCKED"), (ELSEWHERE, "API_KEY_HTTP_REFERRER_BLOCKED")],
)
def test_restricted_keys_are_forbidden_with_their_restriction(emu, ids, key, detail):
    """Given a key restricted to other APIs or to other websites, when it calls, then it answers 403 forbidden (global) with the restriction in details, and costs nothing."""
    answer = call(emu, key)
    assert answer.status == 403
    error = answer.json["error"]
    assert error["errors"][0]["reason"] == "forbidden" and error["errors"][0]["domain"] == "global"
    assert error["status"] == "PERMISSION_DENIED"
    info = next(d for d in error["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["reason"] == detail and info["metadata"]["service"] == "youtube.googleapis.com"
    if detail == "API_KEY_SERVICE_BLOCKED":
        assert info["metadata"]["methodName"] == "youtube.api.v3.V3DataChannelService.List"
    usage = emu.usage()
    assert usage["units_total"] == 0 and usage["by_key"][fingerprint(key)]["requests"] == 1


def test_bad_keys_cost_nothing_but_are_counted_by_fingerprint(emu, ids):
    """Given invalid and disabled keys, when they call, then usage counts them under their fingerprints with 0 units."""
    call(emu, BAD)
    call(emu, OFF)
    usage = emu.usage()
    assert usage["by_key"][fingerprint(BAD)]["requests"] == 1
    assert usage["by_key"][fingerprint(OFF)]["requests"] == 1
    assert usage["units_total"] == 0


def test_open_mode_takes_any_non_empty_key():
    """Given no configured keys (the demo's mode), when any non-empty key calls, then it is served."""
    with EmulatorServer(EmulatorConfig(channels=50)) as emu:
        assert call(emu, "whatever-key").status == 200
        assert call(emu, "another").status == 200
        assert RawClient(emu.base_url).get(CHANNELS, part="id", id="x").status == 403


def test_a_key_can_come_in_the_x_goog_api_key_header(emu, ids):
    """Given a valid key, when it comes in the X-Goog-Api-Key header instead of the query, then the request is served."""
    answer = RawClient(emu.base_url).request(
        "GET", f"{CHANNELS}?part=id&id={ids[0]}", headers={"X-Goog-Api-Key": K1}
    )
    assert answer.status == 200


# --- costs ----------------------------------------------------------------------------------------------
def test_every_method_costs_its_units_in_its_bucket():
    """Given a fresh emulator, when each method is called once, then each costs 1 unit: four in default and the search in the search bucket."""
    with server(quota_per_key=10_000) as emu:
        entry = next(e for e in emu.catalogue.sample(50) if e["video_ids"] and not e["terminated"])
        api = RawClient(emu.base_url, key=K1)
        assert api.get(CHANNELS, part="id", id=entry["id"]).status == 200
        assert api.get("/youtube/v3/videos", part="id", id=entry["video_ids"][0]).status == 200
        assert api.get("/youtube/v3/playlists", part="id", id=entry["playlist_ids"][0]).status == 200
        assert (
            api.get("/youtube/v3/playlistItems", part="id", playlistId=entry["uploads_playlist_id"]).status
            == 200
        )
        assert api.get(SEARCH, part="id", q="a", type="channel").status == 200
        usage = emu.usage()
        assert {m: v["units"] for m, v in usage["by_method"].items()} == {
            "channels.list": 1,
            "videos.list": 1,
            "playlists.list": 1,
            "playlistItems.list": 1,
            "search.list": 1,
        }
        assert usage["units_total"] == 4 and usage["requests_total"] == 5  # units_total: the default bucket
        assert usage["by_key"][fingerprint(K1)]["units"] == 4
        assert usage["by_key"][fingerprint(K1)]["buckets"] == {"default": 4, "search": 1, "video_stats": 0}
        project = usage["quota"]["projects"][f"project-{fingerprint(K1)}"]
        assert project["units_today"] == 4
        assert project["buckets"]["search"] == {"units_today": 1, "remaining_today": 99}
        assert usage["buckets"]["search"]["by_method"] == {"search.list": {"units": 1, "requests": 1}}
        assert set(usage["buckets"]["default"]["by_method"]) == {
            "channels.list",
            "videos.list",
            "playlists.list",
            "playlistItems.list",
        }


def test_invalid_requests_and_not_found_cost_units_too(emu, ids):
    """Given a bad part and an unknown playlist, when they answer 400 and 404, then each still costs its method's unit."""
    api = RawClient(emu.base_url, key=K1)
    assert api.get(CHANNELS, part="bogus", id=ids[0]).status == 400
    assert api.get("/youtube/v3/playlistItems", part="id", playlistId="PLnope").status == 404
    usage = emu.usage()
    assert usage["units_total"] == 2 and usage["by_status"] == {"400": 1, "404": 1}


def test_usage_never_contains_a_key(emu, ids):
    """Given calls with every kind of key, when usage is read in process and over HTTP, then neither contains a key."""
    for key in (K1, K2, BAD, OFF):
        call(emu, key)
    text = json.dumps(emu.usage()) + RawClient(emu.base_url).admin("GET", "usage").body.decode()
    for key in (K1, K2, BAD, OFF):
        assert key not in text
    assert fingerprint(K1) in text


# --- quota ----------------------------------------------------------------------------------------------
def test_spent_quota_is_the_verbatim_quota_exceeded(emu, ids):
    """Given a 5-unit allowance, when a key makes 6 calls, then the 6th answers the verbatim 403 quotaExceeded."""
    answers = [call(emu, K1) for _ in range(6)]
    assert [a.status for a in answers] == [200] * 5 + [403]
    assert answers[-1].json == QUOTA_EXCEEDED
    assert answers[-1].body == QUOTA_EXCEEDED_RAW
    assert emu.usage()["by_key"][fingerprint(K1)]["units"] == 5  # the refusal itself costs nothing


def test_keys_are_separate_projects_by_default(emu, ids):
    """Given K1's project spent, when K2 calls, then K2 still has its own allowance."""
    for _ in range(5):
        call(emu, K1)
    assert call(emu, K1).status == 403
    assert call(emu, K2).status == 200


def test_grouped_keys_share_one_bucket():
    """Given K1 and K2 in one project, when K1 spends 3 units, then K2 gets 2 and is then refused."""
    with server(projects={"shared": [K1, K2]}) as emu:
        assert [call(emu, K1).status for _ in range(3)] == [200] * 3
        assert [call(emu, K2).status for _ in range(3)] == [200, 200, 403]
        assert call(emu, K3).status == 200  # not in the project: its own bucket
        assert emu.usage()["quota"]["projects"]["shared"]["units_today"] == 5


def test_same_project_puts_every_key_in_one_bucket():
    """Given same_project (CLI --same-project), when three keys call, then together they get one allowance."""
    with server(same_project=True) as emu:
        statuses = [call(emu, key).status for key in (K1, K2, K3, K1, K2, K3)]
        assert statuses == [200] * 5 + [403]


def test_a_hundred_searches_then_quota_exceeded_while_channels_list_keeps_answering():
    """Given the default search bucket, when a key searches 101 times, then the 101st is the verbatim quotaExceeded and channels.list on that key still answers."""
    with server(quota_per_key=10) as emu:
        api = RawClient(emu.base_url, key=K1)
        statuses = [api.get(SEARCH, part="id", q="music", type="channel").status for _ in range(101)]
        assert statuses == [200] * 100 + [403]
        refused = api.get(SEARCH, part="id", q="music")
        assert refused.status == 403 and refused.body == QUOTA_EXCEEDED_RAW
        assert call(emu, K1).status == 200  # the default bucket is untouched by searches
        usage = emu.usage()
        assert usage["units_total"] == 1
        search = usage["buckets"]["search"]
        assert search["limit_per_project"] == 100
        assert search["units_total"] == 100 and search["requests_total"] == 102  # refusals cost nothing
        assert search["by_key"][fingerprint(K1)] == {
            "units": 100,
            "requests": 102,
            "by_method": {"search.list": {"units": 100, "requests": 102}},
        }
        assert search["projects"][f"project-{fingerprint(K1)}"]["remaining_today"] == 0


def test_a_spent_default_bucket_leaves_search_answering():
    """Given a key whose default bucket is spent, when it searches, then the search is served and channels.list stays refused."""
    with server() as emu:  # 5 default units
        for _ in range(5):
            call(emu, K1)
        assert call(emu, K1).status == 403
        assert RawClient(emu.base_url, key=K1).get(SEARCH, part="id", q="a").status == 200
        assert call(emu, K1).status == 403


def test_bucket_sizes_are_settings():
    """Given a search bucket of 2 calls, when a key searches 3 times, then the 3rd is refused; a bucket of 0 refuses at once."""
    with server(search_quota_per_key=2) as emu:
        api = RawClient(emu.base_url, key=K1)
        assert [api.get(SEARCH, part="id", q="a").status for _ in range(3)] == [200, 200, 403]
        assert emu.usage()["quota"]["limits"] == {"default": 5, "search": 2, "video_stats": 10_000}
    with server(search_quota_per_key=0) as emu:
        answer = RawClient(emu.base_url, key=K1).get(SEARCH, part="id", q="a")
        assert answer.status == 403 and answer.json == QUOTA_EXCEEDED


def test_grouped_keys_share_the_search_bucket_too():
    """Given K1 and K2 in one project with 3 searches a day, when both search, then together they get 3."""
    with server(projects={"shared": [K1, K2]}, search_quota_per_key=3) as emu:
        statuses = [
            RawClient(emu.base_url, key=k).get(SEARCH, part="id", q="a").status for k in (K1, K2, K1, K2)
        ]
        assert statuses == [200, 200, 200, 403]
        assert emu.usage()["buckets"]["search"]["projects"]["shared"]["units_today"] == 3


def test_the_search_bucket_turns_at_pacific_midnight():
    """Given a spent search bucket at 23:59 PST, when the clock passes midnight in Los Angeles, then searches are served again."""
    with server(start_time=datetime(2026, 11, 21, 7, 59, tzinfo=UTC), search_quota_per_key=1) as emu:
        api = RawClient(emu.base_url, key=K1)
        assert [api.get(SEARCH, part="id", q="a").status for _ in range(2)] == [200, 403]
        emu.advance_clock(timedelta(seconds=61))
        assert api.get(SEARCH, part="id", q="a").status == 200


def test_quota_day_turns_at_pacific_midnight_not_utc():
    """Given a spent key at 23:59 PST, when the clock passes midnight in Los Angeles (08:00 UTC), then the key works again."""
    with server(start_time=datetime(2026, 11, 21, 7, 59, tzinfo=UTC)) as emu:  # 23:59 PST on the 20th
        for _ in range(5):
            call(emu, K1)
        assert call(emu, K1).status == 403
        assert emu.usage()["quota"]["resets_at"] == "2026-11-21T08:00:00+00:00"
        emu.advance_clock(timedelta(seconds=30))  # still the 20th in Los Angeles
        assert call(emu, K1).status == 403
        emu.advance_clock(timedelta(seconds=31))  # 00:00:01 PST on the 21st
        assert call(emu, K1).status == 200
        assert emu.usage()["quota"]["day"] == "2026-11-21"


def test_quota_day_follows_daylight_saving_time():
    """Given a spent key on a PDT day, when 07:00 UTC passes (midnight PDT, not 08:00), then the key works again."""
    # 2026-03-08 is the day clocks spring forward; from then midnight in Los Angeles is 07:00 UTC.
    with server(start_time=datetime(2026, 3, 9, 6, 59, 30, tzinfo=UTC)) as emu:  # 23:59:30 PDT on the 8th
        for _ in range(5):
            call(emu, K1)
        assert call(emu, K1).status == 403
        assert emu.usage()["quota"]["resets_at"] == "2026-03-09T07:00:00+00:00"
        emu.advance_clock(timedelta(seconds=31))
        assert call(emu, K1).status == 200


def test_quota_day_after_daylight_saving_ends_turns_at_0800_utc():
    """Given a spent key on the day PDT ends, when 07:30 UTC passes, then it is still refused until 08:00 UTC."""
    with server(start_time=datetime(2026, 11, 2, 7, 0, tzinfo=UTC)) as emu:  # 23:00 PST on 1 November
        for _ in range(5):
            call(emu, K1)
        emu.advance_clock(timedelta(minutes=30))
        assert call(emu, K1).status == 403
        emu.advance_clock(timedelta(minutes=31))
        assert call(emu, K1).status == 200


def test_clock_set_over_http_turns_the_day(emu, ids):
    """Given a spent key, when POST /_emulator/clock sets the next Pacific day, then the key works again."""
    for _ in range(5):
        call(emu, K1)
    assert call(emu, K1).status == 403
    answer = RawClient(emu.base_url).admin("POST", "clock", {"set": "2026-11-22T08:00:00Z"})
    assert answer.json["pacific_day"] == "2026-11-22"
    assert call(emu, K1).status == 200


def test_concurrent_calls_never_overspend_a_bucket():
    """Given a 25-unit allowance, when 40 calls come concurrently, then exactly 25 are served and 15 refused."""
    from concurrent.futures import ThreadPoolExecutor

    with server(quota_per_key=25) as emu:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: call(emu, K1).status, range(40)))
        assert statuses.count(200) == 25 and statuses.count(403) == 15


def test_every_bucket_answers_the_same_verbatim_quota_body_by_default():
    """Given spent default, search and video_stats buckets, when each is asked once more, then all three answer the one verbatim quotaExceeded body."""
    with server(quota_per_key=1, search_quota_per_key=1, stats_quota_per_key=1) as emu:
        entry = next(e for e in emu.catalogue.sample(50) if e["video_ids"] and not e["terminated"])
        api = RawClient(emu.base_url, key=K1)
        calls = [
            lambda: api.get(CHANNELS, part="id", id=entry["id"]),
            lambda: api.get(SEARCH, part="id", q="a"),
            lambda: api.get("/youtube/v3/videos:batchGetStats", part="statistics", id=entry["video_ids"][0]),
        ]
        for make in calls:
            assert make().status == 200
            refused = make()
            assert refused.status == 403 and refused.body == QUOTA_EXCEEDED_RAW


def test_the_quota_body_can_name_its_bucket():
    """Given quota_exceeded_body="per_bucket" (the other reading of an assumed fact), when the search bucket is spent, then the 403 keeps reason and domain and names search in its message."""
    with server(search_quota_per_key=1, quota_exceeded_body="per_bucket") as emu:
        api = RawClient(emu.base_url, key=K1)
        api.get(SEARCH, part="id", q="a")
        error = api.get(SEARCH, part="id", q="a").json["error"]
        assert error["code"] == 403 and "status" not in error
        assert (error["errors"][0]["reason"], error["errors"][0]["domain"]) == (
            "quotaExceeded",
            "youtube.quota",
        )
        assert error["message"].endswith("quota</a> for search.list calls.")
