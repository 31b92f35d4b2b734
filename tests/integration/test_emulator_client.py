"""google-api-python-client, built exactly as youtube-api.md says, against the emulator over real HTTP."""

from __future__ import annotations

import json

import httplib2
import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from emulator import EmulatorConfig, EmulatorServer

KEY, BAD = "AIzaTestClientSuiteKey000000000000000000", "AIzaNotAValidKey"


@pytest.fixture(scope="module")
def emu():
    config = EmulatorConfig(seed=5, channels=500, keys=[KEY], invalid_keys=[BAD], quota_per_key=10**6)
    with EmulatorServer(config) as running:
        yield running


class RecordingHttp(httplib2.Http):
    """An ``httplib2.Http`` that remembers each request's method, URI and headers."""

    def __init__(self) -> None:
        super().__init__(timeout=10, proxy_info=None)
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, uri, method="GET", body=None, headers=None, *args, **kwargs):  # type: ignore[override]
        self.sent.append((method, uri, dict(headers or {})))
        return super().request(uri, method, body, headers, *args, **kwargs)


def youtube(emu, key=KEY, http=None):
    return build(
        "youtube",
        "v3",
        developerKey=key,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": emu.base_url},
        http=http or httplib2.Http(timeout=10, proxy_info=None),
    )


@pytest.fixture
def live(emu):
    emu.reset()
    return [e for e in emu.catalogue.sample(200) if not e["terminated"]]


def test_channels_by_id_list_and_by_comma_string(emu, live):
    """Given 50 ids as a Python list and as a comma string, when the client lists channels, then both answer all 50."""
    ids = [e["id"] for e in live[:50]]
    api = youtube(emu)
    as_list = api.channels().list(part="snippet,statistics,contentDetails", id=ids, maxResults=50).execute()
    as_text = api.channels().list(part="snippet,statistics,contentDetails", id=",".join(ids)).execute()
    assert {i["id"] for i in as_list["items"]} == set(ids) == {i["id"] for i in as_text["items"]}


def test_for_handle_with_unicode_through_the_client(emu, live):
    """Given a non-Latin handle, when the client (which percent-encodes it) asks forHandle, then the channel is found."""
    entry = next(e for e in live if not e["handle"].isascii())
    answer = youtube(emu).channels().list(part="id", forHandle="@" + entry["handle"].upper()).execute()
    assert [i["id"] for i in answer["items"]] == [entry["id"]]


def test_empty_channels_answer_has_no_items_through_the_client(emu, live):
    """Given an unknown handle, when the client asks, then the parsed answer has no ``items`` key."""
    answer = youtube(emu).channels().list(part="id", forHandle="@no-such-handle-anywhere").execute()
    assert "items" not in answer and answer["pageInfo"]["totalResults"] == 0


def test_a_uri_over_2048_characters_goes_as_post_with_method_override(emu, live):
    """Given a request whose URI passes 2,048 characters, when executed, then the client POSTs it with the override and the emulator answers it."""
    ids = [e["id"] for e in live[:50]]
    http = RecordingHttp()
    request = (
        youtube(emu, http=http)
        .channels()
        .list(
            part="snippet,statistics,contentDetails,status,brandingSettings,topicDetails",
            id=ids,
            quotaUser="q" * 900,
        )
    )
    assert len(request.uri) > 2048
    answer = request.execute(http=http)
    method, uri, headers = http.sent[-1]
    assert method == "POST" and headers.get("x-http-method-override") == "GET"
    assert "key=" not in uri  # the key travelled in the form body
    assert {i["id"] for i in answer["items"]} == set(ids)
    assert emu.usage()["by_verb"].get("POST") == 1


def test_videos_and_playlists_name_their_channel_through_the_client(emu, live):
    """Given video and playlist ids, when the client lists them, then snippet.channelId names the owners."""
    entry = next(e for e in live if e["video_ids"] and e["playlist_ids"])
    api = youtube(emu)
    videos = api.videos().list(part="snippet", id=entry["video_ids"][:3]).execute()["items"]
    playlists = api.playlists().list(part="snippet", id=entry["playlist_ids"]).execute()["items"]
    assert {v["snippet"]["channelId"] for v in videos + playlists} == {entry["id"]}


def test_uploads_pages_with_list_next(emu, live):
    """Given a channel with several videos, when the client pages its uploads with list_next, then every video arrives."""
    entry = next(e for e in live if len(e["video_ids"]) >= 5)
    items = youtube(emu).playlistItems()
    request = items.list(part="contentDetails", playlistId=entry["uploads_playlist_id"], maxResults=2)
    seen = []
    while request is not None:
        answer = request.execute()
        seen += [i["contentDetails"]["videoId"] for i in answer["items"]]
        request = items.list_next(request, answer)
    assert sorted(seen) == sorted(entry["video_ids"])


def test_search_through_the_client(emu, live):
    """Given a channel title, when the client searches channels for it, then that channel is among the hits."""
    entry = next(e for e in live if e["script"] == "latin")
    answer = (
        youtube(emu).search().list(part="snippet", q=entry["title"], type="channel", maxResults=50).execute()
    )
    assert entry["id"] in [i["id"]["channelId"] for i in answer["items"]]


def test_errors_reach_the_client_as_http_errors_with_the_api_body(emu, live):
    """Given a bad key, a no-video uploads playlist and a spent quota, when the client executes, then HttpError carries each status and reason."""
    with pytest.raises(HttpError) as bad_key:
        youtube(emu, key=BAD).channels().list(part="id", id=live[0]["id"]).execute()
    assert bad_key.value.resp.status == 400
    error = json.loads(bad_key.value.content)["error"]
    assert [d["reason"] for d in error["details"] if "reason" in d] == ["API_KEY_INVALID"]

    empty = next(e for e in live if e["no_videos"])
    with pytest.raises(HttpError) as not_found:
        youtube(emu).playlistItems().list(part="id", playlistId=empty["uploads_playlist_id"]).execute()
    assert not_found.value.resp.status == 404
    assert json.loads(not_found.value.content)["error"]["errors"][0]["reason"] == "playlistNotFound"

    emu.set_faults([{"endpoint": "channels.list", "kind": "quota_exceeded", "count": 1}])
    with pytest.raises(HttpError) as spent:
        youtube(emu).channels().list(part="id", id=live[0]["id"]).execute()
    assert spent.value.resp.status == 403
    assert json.loads(spent.value.content)["error"]["errors"][0]["reason"] == "quotaExceeded"


def test_the_client_retries_injected_503s_by_itself(emu, live, mocker):
    """Given 2 injected 503s, when the client executes with num_retries=3, then it gets the answer (so the faults look real to it)."""
    mocker.patch("googleapiclient.http.time.sleep")  # its backoff, not ours to wait
    emu.set_faults([{"endpoint": "channels.list", "kind": "backend_503", "count": 2}])
    answer = youtube(emu).channels().list(part="id", id=live[0]["id"]).execute(num_retries=3)
    assert answer["items"][0]["id"] == live[0]["id"]
    assert emu.usage()["by_status"] == {"503": 2, "200": 1}


def test_partial_responses_through_the_client(emu, live):
    """Given fields=items(id,statistics/viewCount), when the client lists channels, then the parsed answer holds only those properties."""
    ids = [e["id"] for e in live[:5]]
    answer = (
        youtube(emu)
        .channels()
        .list(part="snippet,statistics", id=ids, fields="items(id,statistics/viewCount)")
        .execute()
    )
    assert set(answer) == {"items"}
    assert all(
        set(i) == {"id", "statistics"} and set(i["statistics"]) == {"viewCount"} for i in answer["items"]
    )


def test_error_details_is_the_details_list_for_key_errors_and_the_errors_list_for_quota(emu, live):
    """Given a bad key and a spent quota, when the client raises, then HttpError.error_details is the details list for the first and the errors list for the second."""
    with pytest.raises(HttpError) as bad_key:
        youtube(emu, key=BAD).channels().list(part="id", id=live[0]["id"]).execute()
    assert "API_KEY_INVALID" in [d.get("reason") for d in bad_key.value.error_details]
    emu.set_faults([{"endpoint": "channels.list", "kind": "quota_exceeded", "count": 1}])
    with pytest.raises(HttpError) as spent:
        youtube(emu).channels().list(part="id", id=live[0]["id"]).execute()
    assert [d.get("reason") for d in spent.value.error_details] == ["quotaExceeded"]
    assert spent.value.error_details[0]["domain"] == "youtube.quota"


def test_the_client_never_retries_quota_exceeded_but_retries_rate_limits(emu, live, monkeypatch):
    """Given quotaExceeded faults, then a 403 rateLimitExceeded, a 403 userRateLimitExceeded and a 429, when executed with num_retries=3, then quota fails after one request and the rate limits are retried through."""
    monkeypatch.setattr("googleapiclient.http.time.sleep", lambda seconds: None)
    emu.set_faults([{"endpoint": "channels.list", "kind": "quota_exceeded", "count": 5}])
    with pytest.raises(HttpError):
        youtube(emu).channels().list(part="id", id=live[0]["id"]).execute(num_retries=3)
    assert emu.usage()["requests_total"] == 1
    emu.set_faults(
        [
            {"endpoint": "channels.list", "kind": "rate_limit_403", "count": 1},
            {"endpoint": "channels.list", "kind": "user_rate_limit_403", "count": 1},
            {"endpoint": "channels.list", "kind": "rate_limit_429", "count": 1},
        ]
    )
    answer = youtube(emu).channels().list(part="id", id=live[0]["id"]).execute(num_retries=3)
    assert answer["items"][0]["id"] == live[0]["id"]
    assert emu.usage()["by_status"] == {"403": 3, "429": 1, "200": 1}


def test_http_error_text_and_uri_carry_the_key(emu, live):
    """Given a failing call, when the client raises, then str(HttpError) and HttpError.uri contain key=…: the leak a caller must redact."""
    with pytest.raises(HttpError) as failed:
        youtube(emu, key=BAD).channels().list(part="id", id=live[0]["id"]).execute()
    assert f"key={BAD}" in failed.value.uri and f"key={BAD}" in str(failed.value)


def test_batch_requests_ignore_the_api_endpoint(emu):
    """Given a client built with the emulator as api_endpoint, when a batch request is made, then it would go to Google, not to the emulator (so it must not be used)."""
    batch = youtube(emu).new_batch_http_request()
    assert (
        batch._batch_uri.startswith("https://youtube.googleapis.com/")
        and emu.base_url not in batch._batch_uri
    )


def test_an_unproxied_http_reaches_the_emulator_despite_http_proxy(emu, live, monkeypatch):
    """Given http_proxy pointing at nothing, when the client uses httplib2.Http(proxy_info=None), then loopback calls still reach the emulator."""
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    answer = (
        youtube(emu, http=httplib2.Http(timeout=10, proxy_info=None))
        .channels()
        .list(part="id", id=live[0]["id"])
        .execute()
    )
    assert answer["items"][0]["id"] == live[0]["id"]
