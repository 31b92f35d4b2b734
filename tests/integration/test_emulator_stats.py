"""``videos:batchGetStats`` over real HTTP and through google-api-python-client: shape, limits, bucket."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httplib2
import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from emulator import EmulatorConfig, EmulatorServer, fingerprint
from emulator.testing import RawClient

KEY = "AIzaTestStatsSuiteKey0000000000000000000"
STATS = "/youtube/v3/videos:batchGetStats"
VIDEOS = "/youtube/v3/videos"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ISO_DURATION = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=5, channels=400, keys=[KEY], quota_per_key=10**6, start_time=START)
    with EmulatorServer(config) as running:
        yield running


@pytest.fixture
def api(emu):
    emu.reset()
    return RawClient(emu.base_url, key=KEY)


@pytest.fixture
def video_ids(emu):
    """50 public video ids of several live channels."""
    ids: list[str] = []
    for entry in emu.catalogue.sample(200):
        if not entry["terminated"]:
            ids += entry["video_ids"][:4]
    return ids[:50]


def reason(answer):
    return answer.json["error"]["errors"][0]["reason"]


def seconds(duration: str) -> int:
    hours, minutes, secs = (int(g or 0) for g in ISO_DURATION.fullmatch(duration).groups())  # type: ignore[union-attr]
    return hours * 3600 + minutes * 60 + secs


def test_answer_has_the_documented_shape(emu, api, video_ids):
    """Given 50 video ids, when batchGetStats asks every part, then each item is a youtube#videoStats with string counts, publishTime, ISO duration and durationMillis."""
    answer = api.get(STATS, id=",".join(video_ids), part="snippet,statistics,contentDetails,id")
    assert answer.status == 200
    body = answer.json
    assert set(body) == {"kind", "etag", "items"}
    assert body["kind"] == "youtube#batchGetStatsResponse" and body["etag"]
    assert sorted(item["id"] for item in body["items"]) == sorted(video_ids)
    for item in body["items"]:
        assert set(item) == {"kind", "etag", "id", "snippet", "statistics", "contentDetails"}
        assert item["kind"] == "youtube#videoStats" and len(item["etag"]) == 27
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["snippet"]["publishTime"])
        assert set(item["statistics"]) == {"viewCount", "likeCount", "commentCount"}
        assert all(isinstance(v, str) and v.isdigit() for v in item["statistics"].values())
        details = item["contentDetails"]
        assert set(details) == {"duration", "durationMillis"}
        assert isinstance(details["durationMillis"], str) and details["durationMillis"].isdigit()
        assert int(details["durationMillis"]) // 1000 == seconds(details["duration"])


def test_figures_agree_with_videos_list(emu, api, video_ids):
    """Given the same ids, when batchGetStats and videos.list answer at one instant, then views, likes, comments, publish time and duration agree."""
    stats = {
        i["id"]: i
        for i in api.get(STATS, id=video_ids, part="snippet,statistics,contentDetails").json["items"]
    }
    listed = api.get(VIDEOS, id=video_ids, part="snippet,statistics,contentDetails").json["items"]
    assert set(stats) == {i["id"] for i in listed}
    for video in listed:
        item = stats[video["id"]]
        assert item["snippet"]["publishTime"] == video["snippet"]["publishedAt"]
        assert item["contentDetails"]["duration"] == video["contentDetails"]["duration"]
        for name in ("viewCount", "likeCount", "commentCount"):
            assert item["statistics"][name] == video["statistics"][name]


def test_only_the_requested_parts_are_included(emu, api, video_ids):
    """Given part=statistics, when batchGetStats answers, then items hold kind, etag, id and statistics only."""
    items = api.get(STATS, id=video_ids[:3], part="statistics").json["items"]
    assert items and all(set(item) == {"kind", "etag", "id", "statistics"} for item in items)


def test_unknown_ids_are_left_out_and_order_is_not_the_request_order(emu, api, video_ids):
    """Given known ids in descending order mixed with unknown and garbage ids, when answered, then only the known ones come back, in another order."""
    known = sorted(video_ids[:10], reverse=True)
    answer = api.get(STATS, id=[*known, "AAAAAAAAAAA", "not-an-id"], part="statistics")
    returned = [item["id"] for item in answer.json["items"]]
    assert sorted(returned) == sorted(known) and returned != known


def test_only_unknown_ids_answer_an_empty_item_list(emu, api):
    """Given only unknown ids, when batchGetStats answers, then it is 200 with items []."""
    answer = api.get(STATS, id="AAAAAAAAAAA", part="statistics")
    assert answer.status == 200 and answer.json["items"] == []


def test_comma_list_and_repeated_ids_are_the_same_request(emu, api, video_ids):
    """Given ids as one comma string and as repeated parameters, when both are sent, then the items are the same."""
    as_text = api.get(STATS, id=",".join(video_ids[:5]), part="statistics").json["items"]
    as_list = api.get(STATS, id=video_ids[:5], part=["statistics"]).json["items"]
    assert as_text == as_list


def test_more_than_fifty_ids_is_invalid_filters(emu, api, video_ids):
    """Given 51 ids, when batchGetStats is called, then it answers 400 invalidFilters."""
    answer = api.get(STATS, id=[*video_ids, "AAAAAAAAAAA"], part="statistics")
    assert answer.status == 400 and reason(answer) == "invalidFilters"


def test_an_unknown_part_is_unknown_part(emu, api, video_ids):
    """Given part=statistics,player (a videos.list part, not a videoStats one), when called, then it answers 400 unknownPart."""
    answer = api.get(STATS, id=video_ids[0], part="statistics,player")
    assert answer.status == 400 and reason(answer) == "unknownPart"
    assert answer.json["error"]["message"] == "'player'"


def test_missing_id_or_part_is_required(emu, api, video_ids):
    """Given no id, or no part, when batchGetStats is called, then it answers 400 required naming the parameter."""
    no_id = api.get(STATS, part="statistics")
    assert no_id.status == 400 and reason(no_id) == "required"
    assert no_id.json["error"]["errors"][0]["location"] == "id"
    no_part = api.get(STATS, id=video_ids[0])
    assert no_part.status == 400 and no_part.json["error"]["errors"][0]["location"] == "part"


def test_each_call_costs_one_unit_of_the_video_stats_bucket(emu, api, video_ids):
    """Given two batchGetStats calls (one of them a 400), when usage is read, then they cost 1 unit each in video_stats and nothing in default."""
    api.get(STATS, id=video_ids, part="statistics")
    api.get(STATS, id=video_ids[0], part="bogus")
    usage = emu.usage()
    assert usage["units_total"] == 0
    bucket = usage["buckets"]["video_stats"]
    assert bucket["units_total"] == 2 and bucket["limit_per_project"] == 10_000
    assert bucket["by_method"] == {"videos.batchGetStats": {"units": 2, "requests": 2}}
    assert usage["by_key"][fingerprint(KEY)]["buckets"] == {"default": 0, "search": 0, "video_stats": 2}


def test_a_spent_video_stats_bucket_refuses_only_batch_get_stats():
    """Given a 2-unit video_stats bucket, when a third batchGetStats is asked, then it is quotaExceeded while videos.list on the key still answers."""
    config = EmulatorConfig(seed=5, channels=50, keys=[KEY], stats_quota_per_key=2, start_time=START)
    with EmulatorServer(config) as emu:
        video = next(
            e["video_ids"][0] for e in emu.catalogue.sample(50) if e["video_ids"] and not e["terminated"]
        )
        api = RawClient(emu.base_url, key=KEY)
        assert [api.get(STATS, id=video, part="statistics").status for _ in range(3)] == [200, 200, 403]
        refused = api.get(STATS, id=video, part="statistics")
        assert (
            reason(refused) == "quotaExceeded"
            and refused.json["error"]["errors"][0]["domain"] == "youtube.quota"
        )
        assert api.get(VIDEOS, id=video, part="statistics").status == 200
        assert emu.usage()["buckets"]["video_stats"]["projects"][f"project-{fingerprint(KEY)}"] == {
            "keys": [fingerprint(KEY)],
            "units_today": 2,
            "remaining_today": 0,
        }


def test_post_with_method_override_answers_as_the_get(emu, api, video_ids):
    """Given the query in a form body, when POSTed with X-HTTP-Method-Override: GET, then batchGetStats answers as the GET would."""
    posted = api.post_override(STATS, id=",".join(video_ids), part="statistics")
    got = api.get(STATS, id=",".join(video_ids), part="statistics")
    assert posted.status == 200 and posted.json["items"] == got.json["items"]


@pytest.mark.parametrize(("kind", "status"), [("forbidden_403", 403), ("not_found_404", 404)])
def test_a_key_can_be_refused_the_method_without_being_billed(emu, api, video_ids, kind, status):
    """Given a forbidden_403 or not_found_404 fault on batchGetStats, when it and videos.list are called, then batchGetStats is refused unbilled and videos.list answers."""
    emu.set_faults([{"endpoint": "videos.batchGetStats", "kind": kind}])
    assert api.get(STATS, id=video_ids[0], part="statistics").status == status
    assert api.get(VIDEOS, id=video_ids[0], part="statistics").status == 200
    assert emu.usage()["buckets"]["video_stats"]["units_total"] == 0


# --- through google-api-python-client --------------------------------------------------------------------
def youtube(emu):
    return build(
        "youtube",
        "v3",
        developerKey=KEY,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": emu.base_url},
        http=httplib2.Http(timeout=10, proxy_info=None),
    )


def test_the_bundled_discovery_document_has_batch_get_stats(emu):
    """Given google-api-python-client's bundled discovery document, when the client is built offline, then videos() has batchGetStats at videos:batchGetStats."""
    videos = youtube(emu).videos()
    assert callable(getattr(videos, "batchGetStats", None))
    request = videos.batchGetStats(id=["AAAAAAAAAAA"], part=["statistics"])
    assert request.uri.startswith(f"{emu.base_url}/youtube/v3/videos:batchGetStats?")


def test_batch_get_stats_through_the_client(emu, api, video_ids):
    """Given 50 ids as Python lists, when the client calls videos().batchGetStats, then every video comes back and 1 stats unit is billed."""
    answer = (
        youtube(emu)
        .videos()
        .batchGetStats(id=video_ids, part=["snippet", "statistics", "contentDetails"])
        .execute()
    )
    assert answer["kind"] == "youtube#batchGetStatsResponse"
    assert {item["id"] for item in answer["items"]} == set(video_ids)
    assert emu.usage()["buckets"]["video_stats"]["units_total"] == 1


def test_batch_get_stats_errors_reach_the_client(emu, api, video_ids):
    """Given 51 ids, when the client executes batchGetStats, then HttpError carries 400 invalidFilters."""
    with pytest.raises(HttpError) as refused:
        youtube(emu).videos().batchGetStats(id=[*video_ids, "AAAAAAAAAAA"], part="statistics").execute()
    assert refused.value.resp.status == 400


def test_a_long_batch_get_stats_uri_goes_as_post_through_the_client(emu, api, video_ids):
    """Given a batchGetStats URI over 2,048 characters, when the client executes it, then it is POSTed with the override and answered."""
    request = youtube(emu).videos().batchGetStats(id=video_ids, part="statistics", quotaUser="q" * 1500)
    assert len(request.uri) > 2048
    answer = request.execute()
    assert {item["id"] for item in answer["items"]} == set(video_ids)
    assert emu.usage()["by_verb"] == {"POST": 1}
