"""Injected faults and latency over real HTTP: by count, by rate (deterministic), per key, dropped connections."""

from __future__ import annotations

import http.client
import time

import pytest

from emulator import EmulatorConfig, EmulatorServer, fingerprint
from emulator.testing import RawClient

KEY, OTHER = "AIzaFaultsKey", "AIzaOtherKey"
CHANNELS, VIDEOS = "/youtube/v3/channels", "/youtube/v3/videos"
BACKEND_503 = {"error": {"errors": [{"domain": "global", "reason": "backendError", "message": "Backend Error"}], "code": 503, "message": "Backend Error"}}  # fmt: skip
BACKEND_503_RAW = b'{"error":{"errors":[{"domain":"global","reason":"backendError","message":"Backend Error"}],"code":503,"message":"Backend Error"}}'  # fmt: skip


@pytest.fixture(scope="module")
def emu():
    with EmulatorServer(
        EmulatorConfig(seed=11, channels=100, keys=[KEY, OTHER], quota_per_key=10**6)
    ) as running:
        yield running


@pytest.fixture
def api(emu):
    emu.reset()
    return RawClient(emu.base_url, key=KEY)


@pytest.fixture
def channel_id(emu):
    return next(e["id"] for e in emu.catalogue.sample(20) if not e["terminated"])


def statuses(api, channel_id, n, path=CHANNELS):
    return [api.get(path, part="id", id=channel_id).status for _ in range(n)]


def test_count_faults_hit_the_next_n_matching_requests(emu, api, channel_id):
    """Given 2 backend_503 on channels.list, when 3 calls are made, then the first 2 answer the verbatim 503 and the 3rd is 200."""
    emu.set_faults([{"endpoint": "channels.list", "kind": "backend_503", "count": 2}])
    answers = [api.get(CHANNELS, part="id", id=channel_id) for _ in range(3)]
    assert [a.status for a in answers] == [503, 503, 200]
    assert answers[0].json == BACKEND_503 and answers[0].body == BACKEND_503_RAW


def test_faults_only_hit_their_endpoint(emu, api, channel_id):
    """Given faults on channels.list only, when videos.list is called, then it is served normally."""
    emu.set_faults([{"endpoint": "channels.list", "kind": "backend_500", "count": 5}])
    assert api.get(VIDEOS, part="id", id="AAAAAAAAAAA").status == 200
    assert statuses(api, channel_id, 1) == [500]


@pytest.mark.parametrize(
    ("kind", "status", "reason", "domain"),
    [
        ("backend_500", 500, "backendError", "global"),
        ("backend_503", 503, "backendError", "global"),
        ("rate_limit_429", 429, "rateLimitExceeded", "global"),
        ("rate_limit_403", 403, "rateLimitExceeded", "youtube.quota"),
        ("user_rate_limit_403", 403, "userRateLimitExceeded", "usageLimits"),
        ("quota_exceeded", 403, "quotaExceeded", "youtube.quota"),
    ],
)
def test_each_fault_kind_answers_its_error(emu, api, channel_id, kind, status, reason, domain):
    """Given one fault of a kind, when the next request comes, then it carries that kind's status, reason and domain."""
    emu.set_faults([{"endpoint": "*", "kind": kind, "count": 1}])
    answer = api.get(CHANNELS, part="id", id=channel_id)
    assert answer.status == status
    error = answer.json["error"]
    assert error["code"] == status
    assert (error["errors"][0]["reason"], error["errors"][0]["domain"]) == (reason, domain)


def test_rate_faults_are_a_fraction_and_deterministic(emu, api, channel_id):
    """Given a 30% rate of 503s, when 200 requests are sent twice from the same plan, then ~30% fail and in the same places."""
    plan = [{"endpoint": "channels.list", "kind": "backend_503", "rate": 0.3}]
    emu.set_faults(plan)
    first = statuses(api, channel_id, 200)
    emu.set_faults(plan)
    second = statuses(api, channel_id, 200)
    assert first == second
    assert 40 <= first.count(503) <= 80 and set(first) == {200, 503}


def test_rate_and_count_together_stop_after_count(emu, api, channel_id):
    """Given rate 0.5 and count 3, when 100 requests are sent, then exactly 3 fail."""
    emu.set_faults(
        {"faults": [{"endpoint": "*", "kind": "rate_limit_429", "rate": 0.5, "count": 3}]}
    )  # POST body form
    assert statuses(api, channel_id, 100).count(429) == 3


def test_faults_can_target_one_key_by_fingerprint(emu, api, channel_id):
    """Given a fault for OTHER's fingerprint, when KEY and OTHER call, then only OTHER meets it."""
    emu.set_faults([{"endpoint": "*", "kind": "backend_503", "count": 10, "key": fingerprint(OTHER)}])
    assert statuses(api, channel_id, 3) == [200, 200, 200]
    assert statuses(RawClient(emu.base_url, key=OTHER), channel_id, 2) == [503, 503]


def test_drop_closes_the_connection_without_an_answer(emu, api, channel_id):
    """Given a drop fault, when a request is sent, then the connection closes with no HTTP answer at all."""
    emu.set_faults([{"endpoint": "channels.list", "kind": "drop", "count": 1}])
    conn = http.client.HTTPConnection("127.0.0.1", int(emu.base_url.rsplit(":", 1)[1]), timeout=5)
    try:
        conn.request("GET", f"{CHANNELS}?part=id&id={channel_id}&key={KEY}")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
            conn.getresponse()
    finally:
        conn.close()
    assert statuses(api, channel_id, 1) == [200]  # the server itself is fine


def test_faulted_requests_cost_one_unit_and_quota_faults_cost_none(emu, api, channel_id):
    """Given a 503, a 429 and an injected quotaExceeded, when each meets a call, then usage charges 1 + 1 + 0 units."""
    emu.set_faults(
        [
            {"kind": "backend_503", "count": 1},
            {"kind": "rate_limit_429", "count": 1},
            {"kind": "quota_exceeded", "count": 1},
        ]
    )
    assert statuses(api, channel_id, 3) == [503, 429, 403]
    usage = emu.usage()
    assert usage["units_total"] == 2 and usage["by_status"] == {"503": 1, "429": 1, "403": 1}


def test_an_empty_plan_clears_the_faults(emu, api, channel_id):
    """Given a standing fault, when ``{"faults": []}`` is posted, then requests are served again."""
    RawClient(emu.base_url).admin("POST", "faults", {"faults": [{"kind": "backend_500", "rate": 1.0}]})
    assert statuses(api, channel_id, 1) == [500]
    RawClient(emu.base_url).admin("POST", "faults", {"faults": []})
    assert statuses(api, channel_id, 1) == [200]


def test_a_bad_plan_is_refused(emu, api):
    """Given an unknown fault kind or a rate above 1, when posted, then the admin API answers 400."""
    admin = RawClient(emu.base_url)
    assert admin.admin("POST", "faults", {"faults": [{"kind": "meteor"}]}).status == 400
    assert admin.admin("POST", "faults", {"faults": [{"kind": "drop", "rate": 2}]}).status == 400


def test_latency_is_added_globally_and_per_endpoint(emu, api, channel_id):
    """Given 600 ms of latency on channels.list only, when both methods are called, then channels.list takes at least that and videos.list does not."""
    plan = emu.set_faults([], latency_ms={"channels.list": 600})
    assert plan["latency_ms"] == {"channels.list": 600.0, "*": 0.0}
    started = time.perf_counter()
    assert statuses(api, channel_id, 1) == [200]
    assert time.perf_counter() - started >= 0.6
    started = time.perf_counter()
    api.get(VIDEOS, part="id", id="AAAAAAAAAAA")
    assert time.perf_counter() - started < 0.5  # a wide margin: the machine may be busy


def test_configured_latency_applies_to_every_call():
    """Given latency_ms=150 in the config, when a call is made, then it takes at least 150 ms."""
    with EmulatorServer(EmulatorConfig(channels=20, latency_ms=150)) as emu:
        started = time.perf_counter()
        assert RawClient(emu.base_url, key="k").get(CHANNELS, part="id", id="x").status == 200
        assert time.perf_counter() - started >= 0.15


def test_faults_are_visible_and_counted(emu, api, channel_id):
    """Given a plan, when requests meet it, then GET /_emulator/faults shows each rule's seen and fired counts."""
    emu.set_faults([{"endpoint": "channels.list", "kind": "backend_500", "count": 1}])
    statuses(api, channel_id, 3)
    rule = RawClient(emu.base_url).admin("GET", "faults").json["faults"][0]
    assert (rule["seen"], rule["fired"]) == (1, 1)
