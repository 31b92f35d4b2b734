"""The HTTP API over real HTTP (uvicorn on loopback), on the real PostgreSQL, Redis and RabbitMQ, with a
real worker and the emulator: every route, owner isolation, idempotence, bad bodies, live progress.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
import websockets

from pipeline.progress import ProgressStream
from pipeline.runs import get_run_status
from tests.factories import inputs_of_every_kind
from tests.integration.api_harness import AppServer, bearer, follow_sse
from tests.integration.pipeline_harness import make_pipeline_ctx, wait_until

pytestmark = pytest.mark.services


def start(client: httpx.Client, token: str, lines: list[str], **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/runs", json={"analysis_id": "a1", "channel_inputs": lines, **body}, headers=bearer(token)
    )
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def finished_run(client: httpx.Client, token: str, emulator: Any) -> tuple[str, dict[str, str]]:
    inputs = inputs_of_every_kind(emulator.catalogue.sample(200))
    run_id = start(client, token, list(inputs.values()))["run_id"]
    events = follow_sse(client, f"/v1/runs/{run_id}/events", token)
    assert events[-1]["event"] == "finished"
    return run_id, inputs


# --- runs, followed live ----------------------------------------------------------------------------


def test_a_run_started_over_http_is_followed_to_finished_over_sse(client, tokens_of, emulator):
    """Given a token, when POST /v1/runs starts a run and its SSE stream is read, then progress events lead to one final `finished` event with the summary, and the status, results and CSV agree."""
    inputs = inputs_of_every_kind(emulator.catalogue.sample(200))
    accepted = start(client, tokens_of["alice"], list(inputs.values()))
    assert accepted["created"] is True and accepted["run_status"] == "PENDING"

    events = follow_sse(client, accepted["events_url"], tokens_of["alice"])

    assert [e["event"] for e in events].count("finished") == 1 and events[-1]["event"] == "finished"
    assert all(e["event"] == "progress" for e in events[:-1]) and events[0]["id"]
    final = events[-1]["data"]
    assert final["run_status"] == "FINISHED" and final["progress"] == 1.0
    assert final["summary"]["counts_by_status"] == {"DONE": 7, "FAILED": 3}
    status = client.get(accepted["status_url"], headers=bearer(tokens_of["alice"])).json()
    assert status["run_status"] == "FINISHED" and status["summary"]["channels_total"] == 6
    page = client.get(
        f"/v1/runs/{accepted['run_id']}/results?limit=4", headers=bearer(tokens_of["alice"])
    ).json()
    assert [r["line"] for r in page["items"]] == [1, 2, 3, 4] and page["next_offset"] == 4
    rest = client.get(
        f"/v1/runs/{accepted['run_id']}/results?offset=4&limit=100", headers=bearer(tokens_of["alice"])
    ).json()
    assert len(rest["items"]) == len(inputs) - 4 and rest["next_offset"] is None
    response = client.get(
        f"/v1/runs/{accepted['run_id']}/results?format=csv", headers=bearer(tokens_of["alice"])
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["input"] for r in rows] == list(inputs.values())


def test_progress_events_carry_counts_and_only_grow(client, tokens_of, emulator):
    """Given a run of many handles, when its SSE stream is read, then each progress event has counts and settled jobs and progress never goes back."""
    handles = [
        f"@{c['handle']}" for c in emulator.catalogue.sample(400) if c["handle"] and c["handle"].isascii()
    ][:60]
    run_id = start(client, tokens_of["alice"], handles)["run_id"]

    events = follow_sse(client, f"/v1/runs/{run_id}/events", tokens_of["alice"])

    progress = [e["data"]["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    live = [e["data"] for e in events if e["event"] == "progress" and "settled" in e["data"]]
    for data in live:
        assert data["total_jobs"] == len({h.lower() for h in handles})
        assert sum(data["status_counts"].values()) == data["total_jobs"]


def test_a_run_is_followed_to_finished_over_the_websocket(api, client, tokens_of, emulator):
    """Given a run started over HTTP, when /v1/runs/{id}/stream is read over a WebSocket, then it carries the same payloads as SSE and ends with `finished`, then a normal close."""
    run_id = start(
        client, tokens_of["bob"], list(inputs_of_every_kind(emulator.catalogue.sample(200)).values())
    )["run_id"]

    async def read() -> list[dict[str, Any]]:
        url = f"ws://127.0.0.1:{api.port}/v1/runs/{run_id}/stream"
        messages = []
        async with websockets.connect(url, additional_headers=bearer(tokens_of["bob"])) as ws:
            async for raw in ws:
                messages.append(json.loads(raw))
            assert ws.close_code == 1000
        return messages

    messages = asyncio.run(asyncio.wait_for(read(), 90))

    assert messages[-1]["event"] == "finished" and messages[-1]["data"]["run_status"] == "FINISHED"
    assert {m["event"] for m in messages[:-1]} <= {"progress"} and all(m["id"] for m in messages)


def test_the_websocket_refuses_a_missing_token_and_another_owners_run(api, client, tokens_of):
    """Given a run of alice, when the WebSocket is opened without a token or with bob's, then it closes with 4401 or 4404."""
    run_id = start(client, tokens_of["alice"], ["@nobody-here-at-all"])["run_id"]

    async def close_code(headers: dict[str, str]) -> int | None:
        url = f"ws://127.0.0.1:{api.port}/v1/runs/{run_id}/stream"
        try:
            async with websockets.connect(url, additional_headers=headers) as ws:
                await ws.recv()
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        except websockets.InvalidStatus as exc:  # closed before the handshake completed
            return exc.response.status_code
        return None

    assert asyncio.run(close_code({})) in (4401, 403)
    assert asyncio.run(close_code(bearer(tokens_of["bob"]))) in (4404, 403)


def test_a_client_that_connects_after_the_end_gets_the_final_state_at_once(client, tokens_of, emulator):
    """Given a finished run, when its SSE stream is opened again (with or without Last-Event-ID), then the only event is `finished` with the summary."""
    run_id, _ = finished_run(client, tokens_of["alice"], emulator)

    late = follow_sse(client, f"/v1/runs/{run_id}/events", tokens_of["alice"], timeout=10)
    resumed = follow_sse(
        client, f"/v1/runs/{run_id}/events", tokens_of["alice"], last_event_id="1-0", timeout=10
    )

    for events in (late, resumed):
        assert [e["event"] for e in events] == ["finished"]
        assert events[0]["data"]["summary"]["counts_by_status"] == {"DONE": 7, "FAILED": 3}


def test_sse_resumes_after_last_event_id_and_ends_with_finished(pipeline_ctx, tokens_of):
    """Given a run whose stream holds three progress events, when a client reconnects with Last-Event-ID of the first, then it gets the newest snapshot after it (never the first again), and `finished` ends the stream."""
    from api import create_app

    sent: list[Any] = []
    with (
        AppServer(create_app(pipeline_ctx, send=sent.extend)) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        run_id = start(c, tokens_of["alice"], ["@someone"])["run_id"]  # nothing consumes it: it stays PENDING
        stream = ProgressStream(pipeline_ctx.redis)
        ids = [stream.publish(run_id, "progress", {"run_id": run_id, "progress": p}) for p in (0.1, 0.2, 0.3)]

        def finish_soon() -> None:
            import time

            time.sleep(1.0)
            stream.publish_final(run_id, {"run_id": run_id, "run_status": "FINISHED", "progress": 1.0})

        import threading

        threading.Thread(target=finish_soon, daemon=True).start()
        events = follow_sse(
            c, f"/v1/runs/{run_id}/events", tokens_of["alice"], last_event_id=ids[0], timeout=20
        )

    assert [e["id"] for e in events] == [ids[2], events[-1]["id"]]
    assert events[0]["data"]["progress"] == 0.3
    assert events[-1]["event"] == "finished" and events[-1]["data"]["run_status"] == "FINISHED"
    assert sent, "the run was handed to the sender"


def test_sse_without_last_event_id_starts_with_a_snapshot_of_the_run(pipeline_ctx, tokens_of):
    """Given a pending run, when its SSE stream is opened, then the first event is a progress snapshot of the run's current status."""
    from api import create_app

    with (
        AppServer(create_app(pipeline_ctx, send=lambda sends: None)) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        run_id = start(c, tokens_of["alice"], ["@someone"])["run_id"]
        with c.stream(
            "GET", f"/v1/runs/{run_id}/events", headers=bearer(tokens_of["alice"]), timeout=10
        ) as response:
            from tests.integration.api_harness import sse_events

            first = next(sse_events(response))

    assert first["event"] == "progress"
    assert first["data"]["run_id"] == run_id and first["data"]["run_status"] == "PENDING"


# --- idempotence and bad bodies ---------------------------------------------------------------------


def test_post_runs_is_idempotent_on_a_client_chosen_run_id(client, tokens_of):
    """Given a client-chosen run_id, when the same POST is sent twice, then one run exists, the second answer says created=false, and another owner reusing the id gets 409."""
    run_id = str(uuid.uuid4())
    first = start(client, tokens_of["alice"], ["@nobody-at-all-here"], run_id=run_id)
    second = start(client, tokens_of["alice"], ["@nobody-at-all-here"], run_id=run_id)
    other = client.post(
        "/v1/runs",
        json={"run_id": run_id, "analysis_id": "x", "channel_inputs": ["@x"]},
        headers=bearer(tokens_of["bob"]),
    )

    assert (first["run_id"], first["created"]) == (run_id, True)
    assert (second["run_id"], second["created"]) == (run_id, False)
    assert other.status_code == 409 and "run_id" in other.json()["detail"]
    listed = client.get("/v1/runs", headers=bearer(tokens_of["alice"])).json()
    assert [r["run_id"] for r in listed["items"]] == [run_id]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"channel_inputs": ["@a"]}, "analysis_id: Field required"),
        ({"analysis_id": "a", "channel_inputs": []}, "channel_inputs is empty"),
        ({"analysis_id": "a", "channel_inputs": "@a"}, "channel_inputs: Input should be a valid list"),
        (
            {"analysis_id": "a", "channel_inputs": ["@a"], "options": {"turbo": True}},
            "unknown option(s) ['turbo']",
        ),
        (
            {"analysis_id": "a", "channel_inputs": ["@a"], "options": {"search_budget": -1}},
            "search_budget must be a number from 0 to 10000",
        ),
        (
            {"analysis_id": "a", "channel_inputs": ["@a"], "options": {"recent_videos": 99}},
            "recent_videos must be a number from 0 to 50",
        ),
        ({"analysis_id": "a", "channel_inputs": ["@a"], "run_id": "bad\u0000id"}, "run_id must be"),
        (
            {"analysis_id": "a", "channel_inputs": ["@a"] * 6},
            "too many channel inputs: 6 (the limit is 5 per run)",
        ),
    ],
)
def test_bad_bodies_are_answered_422_with_a_sentence(pg_engine, emulator, clock, tokens_of, body, expected):
    """Given a bad POST /v1/runs body, when it is sent, then the answer is 422 with one sentence naming the problem, and no run is recorded."""
    from api import create_app

    ctx = make_pipeline_ctx(emulator, clock, max_inputs_per_run=5)
    try:
        with (
            AppServer(create_app(ctx, send=lambda sends: None)) as server,
            httpx.Client(base_url=server.url) as c,
        ):
            response = c.post("/v1/runs", json=body, headers=bearer(tokens_of["alice"]))
            listed = c.get("/v1/runs", headers=bearer(tokens_of["alice"])).json()
    finally:
        ctx.close()

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and expected in detail and "\n" not in detail
    assert listed["total"] == 0


def test_a_body_over_the_byte_limit_is_413(pipeline_ctx, tokens_of):
    """Given an app limited to 10,000 bytes per body, when a larger POST arrives, then the answer is 413 with a sentence."""
    from api import create_app

    app = create_app(pipeline_ctx, send=lambda s: None, max_body_bytes=10_000)
    with AppServer(app) as server, httpx.Client(base_url=server.url) as c:
        big = {"analysis_id": "a", "channel_inputs": ["@x" * 50] * 500}
        response = c.post("/v1/runs", json=big, headers=bearer(tokens_of["alice"]))

    assert response.status_code == 413
    assert response.json()["detail"] == "the request body is larger than 10,000 bytes"


# --- auth and isolation -----------------------------------------------------------------------------


def test_every_v1_route_needs_a_valid_token(client, tokens_of, pipeline_ctx):
    """Given no token, a malformed one and a revoked one, when /v1 routes are called, then each answers 401 with WWW-Authenticate."""
    from pipeline.tokens import create_token, revoke_token

    revoked, info = create_token(pipeline_ctx.sessions, owner_id="alice")
    assert revoke_token(pipeline_ctx.sessions, fingerprint=info.fingerprint)
    run = str(uuid.uuid4())
    calls = [
        ("GET", "/v1/runs"),
        ("POST", "/v1/runs"),
        ("GET", f"/v1/runs/{run}"),
        ("GET", f"/v1/runs/{run}/results"),
        ("GET", f"/v1/runs/{run}/events"),
        ("POST", f"/v1/runs/{run}/cancel"),
        ("POST", f"/v1/runs/{run}/retry"),
        ("DELETE", f"/v1/runs/{run}"),
        ("GET", "/v1/stats"),
        ("GET", "/v1/quota"),
        ("GET", "/v1/channels/UCAAAAAAAAAAAAAAAAAAAAAA"),
        ("GET", "/v1/channels/UCAAAAAAAAAAAAAAAAAAAAAA/history"),
        ("GET", "/v1/channels/UCAAAAAAAAAAAAAAAAAAAAAA/videos"),
        ("GET", "/v1/videos/dQw4w9WgXcQ/metrics"),
        ("POST", "/v1/videos/dQw4w9WgXcQ/track"),
    ]
    for headers in ({}, bearer("ytc_not-a-real-token"), bearer(revoked)):
        for method, path in calls:
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"


def test_another_owners_run_is_404_on_every_run_route(client, tokens_of, emulator):
    """Given alice's finished run, when bob calls every run route on it, then each is 404 (never 403) and alice's run is untouched."""
    run_id, _ = finished_run(client, tokens_of["alice"], emulator)
    bob = bearer(tokens_of["bob"])

    for method, path in [
        ("GET", f"/v1/runs/{run_id}"),
        ("GET", f"/v1/runs/{run_id}/results"),
        ("GET", f"/v1/runs/{run_id}/results?format=csv"),
        ("GET", f"/v1/runs/{run_id}/events"),
        ("POST", f"/v1/runs/{run_id}/cancel"),
        ("POST", f"/v1/runs/{run_id}/retry"),
        ("DELETE", f"/v1/runs/{run_id}"),
    ]:
        response = client.request(method, path, headers=bob)
        assert response.status_code == 404, (method, path)
        assert response.json()["detail"] == f"run {run_id} not found"
    assert client.get("/v1/runs", headers=bob).json()["total"] == 0
    assert (
        client.get(f"/v1/runs/{run_id}", headers=bearer(tokens_of["alice"])).json()["run_status"]
        == "FINISHED"
    )


def test_channels_and_videos_are_scoped_to_the_owner_whose_runs_found_them(client, tokens_of, emulator):
    """Given alice's run that found channels and followed their recent uploads, when alice and bob read them, then alice gets metadata, history, videos, a video's series and can track it, while bob gets 404 everywhere."""
    inputs = inputs_of_every_kind(emulator.catalogue.sample(200))
    run_id = start(client, tokens_of["alice"], list(inputs.values()), options={"recent_videos": 3})["run_id"]
    assert follow_sse(client, f"/v1/runs/{run_id}/events", tokens_of["alice"])[-1]["event"] == "finished"
    alice, bob = bearer(tokens_of["alice"]), bearer(tokens_of["bob"])
    rows = client.get(f"/v1/runs/{run_id}/results?limit=100", headers=alice).json()["items"]
    cids = [r["channel_id"] for r in rows if r["status"] == "DONE"]
    listed = {cid: client.get(f"/v1/channels/{cid}/videos", headers=alice).json()["videos"] for cid in cids}
    cid = next(c for c, videos in listed.items() if videos)
    vid = listed[cid][0]["video_id"]

    channel = client.get(f"/v1/channels/{cid}", headers=alice).json()
    history = client.get(f"/v1/channels/{cid}/history?interval=week", headers=alice).json()
    metrics = client.get(f"/v1/videos/{vid}/metrics?days=7&interval=day", headers=alice).json()
    track = client.post(f"/v1/videos/{vid}/track", headers=alice)

    assert channel["channel_id"] == cid and channel["runs"][0]["run_id"] == run_id
    assert len(history["points"]) == 1 and history["points"][0]["subscribers"] == channel["subscribers"]
    assert 1 <= len(listed[cid]) <= 3 and all(v["channel_id"] == cid for v in listed[cid])
    assert metrics["video"]["video_id"] == vid and metrics["points"][0]["views"] is not None
    assert track.status_code == 202 and track.json()["video"]["tracked"] is True
    for path in (
        f"/v1/channels/{cid}",
        f"/v1/channels/{cid}/history",
        f"/v1/channels/{cid}/videos",
        f"/v1/videos/{vid}/metrics",
    ):
        assert client.get(path, headers=bob).status_code == 404, path
    assert client.post(f"/v1/videos/{vid}/track", headers=bob).status_code == 404
    assert client.get("/v1/channels/UCAAAAAAAAAAAAAAAAAAAAAA", headers=alice).status_code == 404
    assert client.get("/v1/videos/AAAAAAAAAAA/metrics", headers=alice).status_code == 404


# --- listing, control, statistics -------------------------------------------------------------------


def test_runs_are_listed_newest_first_filtered_and_paged(client, tokens_of, emulator):
    """Given three runs of alice in two analyses (one finished), when /v1/runs is filtered and paged, then the pages and filters hold exactly the matching runs."""
    done, _ = finished_run(client, tokens_of["alice"], emulator)
    a = start(client, tokens_of["alice"], ["@nobody-1-here"], analysis_id="other")["run_id"]
    b = start(client, tokens_of["alice"], ["@nobody-2-here"], analysis_id="other")["run_id"]
    alice = bearer(tokens_of["alice"])
    wait_until(
        lambda: client.get(f"/v1/runs/{b}", headers=alice).json()["run_status"] == "FINISHED", timeout=60
    )

    first = client.get("/v1/runs?limit=2", headers=alice).json()
    second = client.get(f"/v1/runs?limit=2&offset={first['next_offset']}", headers=alice).json()
    other = client.get("/v1/runs?analysis_id=other", headers=alice).json()
    finished = client.get("/v1/runs?status=FINISHED&status=CANCELLED", headers=alice).json()
    bad = client.get("/v1/runs?status=DONE", headers=alice)

    assert [r["run_id"] for r in first["items"]] == [b, a] and first["total"] == 3
    assert [r["run_id"] for r in second["items"]] == [done] and second["next_offset"] is None
    assert {r["run_id"] for r in other["items"]} == {a, b}
    assert done in {r["run_id"] for r in finished["items"]}
    assert bad.status_code == 422 and "status" in bad.json()["detail"]


def test_cancel_then_delete_a_pending_run(pipeline_ctx, tokens_of):
    """Given a run nothing consumes (PENDING), when it is cancelled twice and then deleted, then the first cancel wins, the second says so, a running delete is refused, and after delete it is gone."""
    from api import create_app

    with (
        AppServer(create_app(pipeline_ctx, send=lambda s: None)) as server,
        httpx.Client(base_url=server.url) as c,
    ):
        alice = bearer(tokens_of["alice"])
        run_id = start(c, tokens_of["alice"], ["@someone-pending"])["run_id"]
        refused = c.delete(f"/v1/runs/{run_id}", headers=alice)
        first = c.post(f"/v1/runs/{run_id}/cancel", headers=alice).json()
        again = c.post(f"/v1/runs/{run_id}/cancel", headers=alice).json()
        status = c.get(f"/v1/runs/{run_id}", headers=alice).json()
        deleted = c.delete(f"/v1/runs/{run_id}", headers=alice)
        gone = c.get(f"/v1/runs/{run_id}", headers=alice)

    assert refused.status_code == 409 and "cancel it before deleting" in refused.json()["detail"]
    assert (first["cancelled"], again["cancelled"]) == (True, False)
    assert status["run_status"] == "CANCELLED"
    assert deleted.status_code == 204 and gone.status_code == 404


def test_retry_starts_a_linked_run_with_the_failed_inputs(client, tokens_of, emulator):
    """Given a finished run with failed inputs, when it is retried, then a new run linked to it holds only its failed (not invalid) inputs; retrying a running run is 409."""
    run_id, inputs = finished_run(client, tokens_of["alice"], emulator)
    alice = bearer(tokens_of["alice"])

    response = client.post(f"/v1/runs/{run_id}/retry", json={"allow_search": False}, headers=alice)

    assert response.status_code == 202
    new_id = response.json()["retry_run_id"]
    status = client.get(f"/v1/runs/{new_id}", headers=alice).json()
    assert status["parent_run_id"] == run_id
    assert status["total_inputs"] == 2  # the missing handle and the terminated channel, not the invalid line
    running = start(client, tokens_of["alice"], [inputs["handle"]])["run_id"]
    conflict = client.post(f"/v1/runs/{running}/retry", headers=alice)
    assert conflict.status_code in (409, 202)  # 202 only if the tiny run already finished
    if conflict.status_code == 409:
        assert "only a finished run can be retried" in conflict.json()["detail"]


def test_stats_are_owner_scoped_and_all_owners_needs_admin(client, tokens_of, emulator):
    """Given a run of alice, when alice, bob and the admin ask /v1/stats, then each sees their own scope, all_owners is 403 for owners and counts alice's run for the admin."""
    finished_run(client, tokens_of["alice"], emulator)

    alice = client.get("/v1/stats", headers=bearer(tokens_of["alice"])).json()
    bob = client.get("/v1/stats", headers=bearer(tokens_of["bob"])).json()
    refused = client.get("/v1/stats?all_owners=true", headers=bearer(tokens_of["bob"]))
    everyone = client.get("/v1/stats?all_owners=true&days=7", headers=bearer(tokens_of["admin"])).json()

    assert alice["runs_by_status"] == {"FINISHED": 1} and alice["jobs_total"] == 10
    assert alice["success_rate"] == 0.7 and alice["quota_units_total"] > 0
    assert set(alice["quota_by_day"][0]["by_bucket"]) <= {"default", "search", "video_stats"}
    assert bob["runs_total"] == 0 and bob["quota_units_total"] == 0
    assert refused.status_code == 403
    assert everyone["scope"] == "all owners" and everyone["runs_total"] == 1


def test_quota_is_for_admins_and_names_keys_by_fingerprint_only(client, tokens_of, emulator):
    """Given today's calls, when /v1/quota is asked by an owner and by the admin, then the owner gets 403 and the admin the keys by fingerprint, never a key."""
    from tests.integration.pipeline_harness import KEYS

    finished_run(client, tokens_of["alice"], emulator)

    refused = client.get("/v1/quota", headers=bearer(tokens_of["alice"]))
    response = client.get("/v1/quota", headers=bearer(tokens_of["admin"]))

    assert refused.status_code == 403
    body = response.json()
    assert len(body["keys"]) == len(KEYS) and all(len(k["fingerprint"]) >= 8 for k in body["keys"])
    assert sum(k["used"] for k in body["keys"]) == body["by_bucket"]["default"]["units"]
    assert set(body["buckets"]) == {"default", "search", "video_stats"}
    assert (body["buckets"]["search"]["unit"], body["buckets"]["search"]["cap_per_key"]) == ("call", 100)
    for bucket in ("default", "search", "video_stats"):
        used = sum(k["buckets"][bucket]["used"] for k in body["keys"])
        assert used == body["by_bucket"].get(bucket, {}).get("units", 0), bucket
    assert not any(key in response.text for key in KEYS)


def test_health_and_readiness_name_each_service(client):
    """Given the API on the real services, when /healthz and /readyz are asked, then both are ok and readyz names the database, Redis and RabbitMQ."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok"
    assert {k: v["ok"] for k, v in ready["services"].items()} == {
        "database": True,
        "redis": True,
        "broker": True,
    }
    assert ready["services"]["broker"]["detail"] == "rabbitmq"


def test_readiness_is_503_when_redis_is_unreachable(pipeline_ctx, tokens_of):
    """Given a context whose Redis points at a closed port, when /readyz is asked, then it answers 503 naming Redis as down."""
    import redis as redis_lib

    from api import create_app
    from tests.integration.api_harness import free_port

    broken = redis_lib.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    original, pipeline_ctx.redis = pipeline_ctx.redis, broken
    try:
        with AppServer(create_app(pipeline_ctx, send=lambda s: None)) as server:
            response = httpx.get(f"{server.url}/readyz", timeout=10)
    finally:
        pipeline_ctx.redis = original

    assert response.status_code == 503
    assert response.json()["services"]["redis"]["ok"] is False


def test_status_is_read_from_redis_while_a_run_works(client, tokens_of, emulator, pipeline_ctx):
    """Given a running run, when its status is read over HTTP mid-run, then the counts come from Redis (constant time) and agree with get_run_status."""
    handles = [
        f"@{c['handle']}" for c in emulator.catalogue.sample(600) if c["handle"] and c["handle"].isascii()
    ][:150]
    run_id = start(client, tokens_of["alice"], handles)["run_id"]
    alice = bearer(tokens_of["alice"])

    seen = wait_until(
        lambda: (
            (s := client.get(f"/v1/runs/{run_id}", headers=alice).json())["run_status"] != "PENDING" and s
        ),
        timeout=30,
        interval=0.01,
    )

    assert seen["owner_id"] == "alice"
    if seen["run_status"] == "RUNNING":
        assert seen["counts_source"] == "redis"
    wait_until(lambda: get_run_status(run_id, ctx=pipeline_ctx)["run_status"] == "FINISHED", timeout=90)


def test_cors_is_off_unless_origins_are_configured(pipeline_ctx, tokens_of):
    """Given one app without CORS origins and one with an origin, when a browser preflight arrives from that origin, then only the second allows it, and never another origin."""
    from api import create_app

    preflight = {"Origin": "https://backend.example", "Access-Control-Request-Method": "GET"}
    answers = []
    for origins in ((), ("https://backend.example",)):
        app = create_app(pipeline_ctx, send=lambda s: None, cors_origins=origins)
        with AppServer(app) as server, httpx.Client(base_url=server.url) as c:
            answers.append(c.options("/v1/runs", headers=preflight))
            answers.append(c.options("/v1/runs", headers={**preflight, "Origin": "https://evil.example"}))

    assert "access-control-allow-origin" not in answers[0].headers
    assert "access-control-allow-origin" not in answers[1].headers
    assert answers[2].headers["access-control-allow-origin"] == "https://backend.example"
    assert "access-control-allow-origin" not in answers[3].headers
