"""Discovery end to end: real PostgreSQL, Redis and RabbitMQ, the emulator over HTTP, a real worker.

Every trigger (the Python API, the CLI, a ``discover`` message published with plain pika, a real
periodiq process) finishes a cycle exactly once with one ``discovery_finished`` event; budgets hold;
a spent search bucket parks a cycle until the emulator's day turns.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pika
import pytest
import sqlalchemy as sa

from actors.dispatch import send_all
from emulator.testing import RawClient
from models import ApiCall, Discovery, DiscoveryCycle, DiscoverySearch, Run, RunStatus, Watchlist
from pipeline import maintenance
from pipeline.discovery import (
    add_watchlist,
    delete_watchlist,
    discover,
    edit_watchlist,
    get_cycle_status,
    get_watchlist,
    list_discoveries,
    run_cycle,
    schedule_due,
)
from pipeline.errors import CycleNotFound, InvalidRequest, WatchlistNotFound
from pipeline.youtube.quota import next_pacific_midnight
from tests.conftest import AMQP_URL, PG_URL
from tests.integration.pipeline_harness import (
    KEYS,
    PIPELINE_REDIS_URL,
    drain_events,
    make_pipeline_ctx,
    running_worker,
    truncate,
    wait_until,
)

pytestmark = pytest.mark.services

EVENTS = "ytc_test_discovery_finished"
REPO = Path(__file__).resolve().parents[2]


# --- fixtures and helpers -------------------------------------------------------------------------------


@pytest.fixture
def dctx(pg_engine: sa.Engine, emulator: Any, clock: Any) -> Iterator[Any]:
    """A context on the real services whose discovery_finished events go to this module's queue."""
    truncate(pg_engine)
    emulator.reset()
    ctx = make_pipeline_ctx(emulator, clock, discovery_finished_queue=EVENTS)
    drain_events(EVENTS)
    yield ctx
    ctx.close()


@pytest.fixture
def dworker(rabbit_broker: Any, dctx: Any) -> Iterator[Any]:
    with running_worker(rabbit_broker, dctx) as w:
        yield w
    drain_events(EVENTS)


def keywords_of(emulator: Any, n: int) -> list[str]:
    """The ``n`` words most common in the catalogue's channel titles: each finds a page of channels."""
    words = Counter(
        w.lower()
        for i in range(len(emulator.catalogue))
        for w in re.findall(r"[A-Za-z]{4,}", emulator.catalogue.titles[i])
        if w.lower() not in ("with", "official")
    )
    return [word for word, _ in words.most_common(n)]


def finished(ctx: Any, cycle_id: str) -> dict[str, Any] | None:
    """The cycle's status once it is finished and its event has gone out; None before."""
    with ctx.session() as s:
        cycle = s.get(DiscoveryCycle, cycle_id)
        if cycle is None or cycle.finished_event_sent_at is None:
            return None
    return get_cycle_status(cycle_id, ctx=ctx)


def events() -> list[dict[str, Any]]:
    return [json.loads(body) for body in drain_events(EVENTS)]


def searches(ctx: Any, cycle_id: str) -> list[DiscoverySearch]:
    with ctx.session() as s:
        return list(s.exec(sa.select(DiscoverySearch).where(DiscoverySearch.cycle_id == cycle_id)).scalars())


def found_by(ctx: Any, cycle_id: str) -> set[str]:
    return {cid for search in searches(ctx, cycle_id) for cid in (search.hits or {})}


def calls(ctx: Any, cycle_id: str, endpoint: str) -> int:
    with ctx.session() as s:
        return s.execute(
            sa.select(sa.func.count()).where(ApiCall.run_id == cycle_id, ApiCall.endpoint == endpoint)
        ).scalar_one()


def count(ctx: Any, model: Any) -> int:
    with ctx.session() as s:
        return s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def assert_no_key_stored(ctx: Any) -> None:
    """Nothing discovery wrote (watchlists, cycles, their searches, discoveries) contains an API key."""
    with ctx.session() as s:
        text = " ".join(
            str(row)
            for table in ("watchlists", "discovery_cycles", "discovery_searches", "discoveries")
            for row in s.execute(sa.text(f"SELECT * FROM {table}")).all()  # noqa: S608 - fixed names
        )
    assert text.strip(), "the cycle wrote nothing to look through"
    for key in KEYS:
        assert key not in text and key[:12] not in text


def run_inline(ctx: Any, sends: list[Any]) -> None:
    """Drive discover_cycle messages in this thread (for tests that need no worker)."""
    pending = list(sends)
    while pending:
        send = pending.pop(0)
        if send.actor == "discover_cycle":
            pending.extend(run_cycle(ctx, send.kwargs["cycle_id"]))


def publish(kwargs: dict[str, Any]) -> None:
    """A foreign backend's `discover` message, exactly as the README documents it (plain pika)."""
    body = {
        "queue_name": "discover",
        "actor_name": "discover",
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        channel.queue_declare("discover", passive=True)  # exists once a worker has started
        channel.confirm_delivery()
        channel.basic_publish(
            "",
            "discover",
            json.dumps(body).encode(),
            mandatory=True,
            properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"),
        )
    finally:
        connection.close()


def service_env(emulator: Any, **extra: str) -> dict[str, str]:
    """The environment of a ytcollect process on this test's services (no ytcollect setting inherited)."""
    from tests.integration.worker_process import worker_env

    return worker_env(
        {
            "BROKER_URL": AMQP_URL,
            "REDIS_URL": PIPELINE_REDIS_URL,
            "DATABASE_URL": PG_URL,
            "YT_API_KEYS": ",".join(KEYS),
            "YOUTUBE_API_URL": emulator.base_url,
            "DISCOVERY_FINISHED_QUEUE": EVENTS,
            **extra,
        }
    )


# --- the manual trigger (Python API) ----------------------------------------------------------------------


def test_a_cycle_finishes_once_within_its_budget_with_metadata_in_batches_of_50(dworker, dctx, emulator):
    """Given a watchlist of two keywords that each find a page of channels, when a cycle runs, then it finishes once with one event, two search calls recorded in the search bucket and one channels.list per 50 channels."""
    words = keywords_of(emulator, 2)
    add_watchlist("owner-1", "rivals", words, ctx=dctx)

    cycle_id = discover("owner-1", "rivals", ctx=dctx, send=send_all)
    status = wait_until(lambda: finished(dctx, cycle_id), timeout=60)

    summary = status["summary"]
    assert status["status"] == "FINISHED" and status["trigger"] == "manual" and status["error"] is None
    assert summary["keywords_searched"] == 2 and summary["search_calls"] == 2 <= summary["search_budget"]
    # Every search is one call, in the search bucket, recorded per cycle.
    assert calls(dctx, cycle_id, "search.list") == 2
    assert emulator.usage()["buckets"]["search"]["requests_total"] == 2
    # Metadata: the channels found, deduplicated across keywords, in shared batches of 50.
    distinct = found_by(dctx, cycle_id)
    assert len(distinct) > 50, "the keywords must find more than one batch of channels"
    assert summary["channels_total"] + summary["channels_missing"] == len(distinct)
    batches = math.ceil(len(distinct) / 50)
    assert calls(dctx, cycle_id, "channels.list") == batches
    assert emulator.usage()["by_method"]["channels.list"]["requests"] == batches
    # The first cycle of a watchlist: everything is new, new first, scores labelled as ours.
    assert summary["new_channels_total"] == summary["channels_total"]
    assert all(c["new"] and c["title"] for c in summary["channels"])
    assert "computed by ytcollect" in summary["score_label"]
    scores = [c["score"] for c in summary["channels"]]
    assert scores == sorted(scores, reverse=True)
    # Stored: one row per (keyword, channel) a search found.
    pairs = {(s.keyword, cid) for s in searches(dctx, cycle_id) for cid in (s.hits or {})}
    with dctx.session() as s:
        rows = {(d.keyword, d.channel_id) for d in s.exec(sa.select(Discovery)).scalars()}
    kept = {c["channel_id"] for c in summary["channels"]}
    assert rows == {(k, cid) for k, cid in pairs if cid in kept}

    sent = events()
    assert [e["cycle_id"] for e in sent] == [cycle_id]
    assert sent[0]["event"] == "discovery_finished" and sent[0]["status"] == "FINISHED"
    assert sorted(sent[0]["new_channel_ids"]) == sorted(kept)
    # Running the cycle's message again (a redelivery) changes nothing and publishes nothing.
    assert run_cycle(dctx, cycle_id) == []
    assert events() == [] and calls(dctx, cycle_id, "search.list") == 2


def test_the_second_cycle_reports_only_the_channels_the_first_did_not_find(dworker, dctx, emulator):
    """Given a cycle on keyword A, when B is added and a second cycle runs, then only channels B found and A did not are new, in the report, the event and `--new`."""
    first_word, second_word = keywords_of(emulator, 2)
    add_watchlist("owner-1", "rivals", [first_word], ctx=dctx)
    first = discover("owner-1", "rivals", ctx=dctx, send=send_all)
    wait_until(lambda: finished(dctx, first), timeout=60)
    events()
    edit_watchlist("owner-1", "rivals", {"add_keywords": [second_word]}, ctx=dctx)

    second = discover("owner-1", "rivals", ctx=dctx, send=send_all)
    status = wait_until(lambda: finished(dctx, second), timeout=60)

    reported = {c["channel_id"] for c in status["summary"]["channels"]}
    expected_new = reported - found_by(dctx, first)
    assert expected_new, "the second keyword must find channels the first did not"
    assert expected_new != reported  # the first keyword's channels are found again, not new
    new = {c["channel_id"] for c in status["summary"]["channels"] if c["new"]}
    assert new == expected_new
    assert status["summary"]["new_channels_total"] == len(expected_new)
    assert set(events()[0]["new_channel_ids"]) == expected_new
    assert {
        r["channel_id"] for r in list_discoveries("owner-1", "rivals", new_only=True, ctx=dctx)
    } == expected_new
    listed = list_discoveries("owner-1", "rivals", ctx=dctx)
    assert [r["new"] for r in listed] == sorted((r["new"] for r in listed), reverse=True)  # new first
    with dctx.session() as s:
        again = (
            s.exec(
                sa.select(Discovery).where(Discovery.keyword == first_word, Discovery.last_cycle_id == second)
            )
            .scalars()
            .all()
        )
    assert again and all(d.cycles == 2 and d.first_cycle_id == first for d in again)


def test_start_runs_starts_one_run_for_the_new_channels_only(dworker, dctx, emulator):
    """Given a watchlist that starts runs, when two cycles find the same channels, then the first starts one run for them and the second none."""
    add_watchlist("owner-1", "tracked", keywords_of(emulator, 1), {"start_runs": True}, ctx=dctx)
    first = discover("owner-1", "tracked", ctx=dctx, send=send_all)
    status = wait_until(lambda: finished(dctx, first), timeout=60)
    run_id = status["run_id"]
    assert run_id is not None
    with dctx.session() as s:
        wait_until(lambda: s.get(Run, run_id) is not None, timeout=10)
    run = wait_until(lambda: _finished_run(dctx, run_id), timeout=60)
    assert run.total_inputs == status["summary"]["new_channels_total"]
    assert run.owner_id == "owner-1" and run.kind == "system"

    second = discover("owner-1", "tracked", ctx=dctx, send=send_all)
    again = wait_until(lambda: finished(dctx, second), timeout=60)
    assert again["summary"]["new_channels_total"] == 0 and again["run_id"] is None
    assert count(dctx, Run) == 1


def _finished_run(ctx: Any, run_id: str) -> Any:
    with ctx.session() as s:
        run = s.get(Run, run_id)
    return run if run is not None and run.status == RunStatus.FINISHED else None


# --- the event trigger (AMQP) -----------------------------------------------------------------------------


def test_a_discover_message_published_twice_with_plain_pika_finishes_one_cycle(dworker, dctx, emulator):
    """Given a backend that only speaks AMQP, when it publishes the documented `discover` message twice, then one cycle finishes with one event."""
    add_watchlist("shop-42", "competitors", keywords_of(emulator, 1), ctx=dctx)
    cycle_id = str(uuid.uuid4())
    message = {"cycle_id": cycle_id, "owner_id": "shop-42", "watchlist": "competitors"}
    publish(message)
    publish(message)

    status = wait_until(lambda: finished(dctx, cycle_id), timeout=60)
    assert status["trigger"] == "event" and status["summary"]["channels_total"] > 0
    wait_until(lambda: count(dctx, DiscoveryCycle) == 1, timeout=5)
    publish(message)  # once finished, a resend is a no-op too
    wait_until(lambda: not _queue_depth("discover"), timeout=20)
    assert [e["cycle_id"] for e in events()] == [cycle_id]
    assert calls(dctx, cycle_id, "search.list") == 1
    assert count(dctx, DiscoveryCycle) == 1


def _queue_depth(queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_bad_discover_messages_finish_with_their_reason_and_never_touch_an_existing_cycle(
    dworker, dctx, emulator
):
    """Given messages with no keywords, 1,000 keywords, a 5,000-character keyword, another owner's watchlist, an unknown field or no owner, when published, then each finishes a cycle with its reason and one event, and a bad resend of a finished cycle's id leaves it as it was."""
    add_watchlist("alice", "alices", keywords_of(emulator, 1), ctx=dctx)
    good = str(uuid.uuid4())
    publish({"cycle_id": good, "owner_id": "alice", "watchlist": "alices"})
    before = wait_until(lambda: finished(dctx, good), timeout=60)
    events()

    bad = {
        "keywords is empty": {"owner_id": "mallory", "keywords": []},
        "too many keywords: 1,000": {"owner_id": "mallory", "keywords": [f"k{i}" for i in range(1_000)]},
        "keyword 1 is 5,000 characters long": {"owner_id": "mallory", "keywords": ["x" * 5_000]},
        "watchlist 'alices' not found": {"owner_id": "mallory", "watchlist": "alices"},  # alice's
        "unknown field(s) ['eta']": {"owner_id": "mallory", "keywords": ["a"], "eta": 1},
        "owner_id must be a string": {"keywords": ["a"]},
    }
    ids = {}
    for reason, fields in bad.items():
        ids[reason] = str(uuid.uuid4())
        publish({"cycle_id": ids[reason], **fields})
    publish({"cycle_id": good, "owner_id": "mallory", "keywords": []})  # a hostile resend of alice's id

    for reason, cycle_id in ids.items():
        status = wait_until(lambda cycle_id=cycle_id: finished(dctx, cycle_id), timeout=30)
        assert reason in status["error"] and "\n" not in status["error"]
        assert status["status"] == "FINISHED"
    wait_until(lambda: not _queue_depth("discover"), timeout=20)
    sent = events()
    assert sorted(e["cycle_id"] for e in sent) == sorted(ids.values())
    assert all(e["error"] for e in sent)
    after = get_cycle_status(good, ctx=dctx)
    assert after["summary"] == before["summary"] and after["owner_id"] == "alice" and after["error"] is None
    with dctx.session() as s:
        assert (
            s.exec(
                sa.select(sa.func.count()).select_from(ApiCall).where(ApiCall.run_id.in_(ids.values()))
            ).scalar_one()
            == 0
        )


# --- bad input through the Python API ---------------------------------------------------------------------


def test_bad_input_is_a_one_line_error_and_loses_nothing(dctx, emulator):
    """Given an owner's watchlist, when empty, 1,000 or 5,000-character keywords or another owner's watchlist are asked for, then each is a one-line error and nothing is written or changed."""
    words = keywords_of(emulator, 2)
    created = add_watchlist("alice", "mine", words, {"interval_hours": 24}, ctx=dctx)
    problems = [
        (lambda: add_watchlist("alice", "empty", [], ctx=dctx), "keywords is empty"),
        (
            lambda: add_watchlist("alice", "huge", [f"k{i}" for i in range(1_000)], ctx=dctx),
            "too many keywords",
        ),
        (lambda: add_watchlist("alice", "long", ["x" * 5_000], ctx=dctx), "5,000 characters"),
        (lambda: add_watchlist("alice", "mine", ["other"], ctx=dctx), "already exists"),
        (
            lambda: edit_watchlist("alice", "mine", {"add_keywords": ["x" * 5_000]}, ctx=dctx),
            "5,000 characters",
        ),
        (lambda: edit_watchlist("alice", "mine", {"keywords": []}, ctx=dctx), "keywords is empty"),
        (
            lambda: edit_watchlist("alice", "mine", {"name": "new", "search_budget": 0}, ctx=dctx),
            "search_budget",
        ),
        (lambda: discover("alice", keywords=[], ctx=dctx, send=send_all), "keywords is empty"),
        (lambda: discover("alice", keywords=["x" * 5_000], ctx=dctx, send=send_all), "5,000 characters"),
        (lambda: discover("alice", keywords=["k"] * 1_000, ctx=dctx, send=send_all), "too many keywords"),
        (lambda: discover("mallory", "mine", ctx=dctx, send=send_all), "watchlist 'mine' not found"),
        (lambda: edit_watchlist("mallory", "mine", {"keywords": ["mine now"]}, ctx=dctx), "not found"),
        (lambda: delete_watchlist("mallory", "mine", ctx=dctx), "not found"),
        (lambda: list_discoveries("mallory", "mine", ctx=dctx), "not found"),
        (lambda: get_watchlist("mallory", created["id"], ctx=dctx), "not found"),  # not by id either
    ]
    for attempt, message in problems:
        with pytest.raises((InvalidRequest, WatchlistNotFound)) as raised:
            attempt()
        assert message in str(raised.value) and "\n" not in str(raised.value), message
    assert get_watchlist("alice", "mine", ctx=dctx) == created
    assert count(dctx, Watchlist) == 1 and count(dctx, DiscoveryCycle) == 0
    assert count(dctx, ApiCall) == 0 and emulator.usage()["requests_total"] == 0


def test_a_ref_the_database_cannot_hold_is_not_found_rather_than_a_database_error(dctx):
    """Given a watchlist name or cycle id holding NUL or a lone surrogate, when discoveries or a cycle's status are asked for, then the answer is "not found", never psycopg's DataError."""
    for ref in ("a\x00b", "\ud800"):
        with pytest.raises(WatchlistNotFound):
            list_discoveries("alice", ref, ctx=dctx)
        with pytest.raises(CycleNotFound):
            get_cycle_status(ref, ctx=dctx)


# --- budgets ----------------------------------------------------------------------------------------------


def test_the_daily_budget_is_shared_by_every_watchlist_and_keeps_a_share_for_manual_cycles(
    rabbit_broker, pg_engine, emulator, clock
):
    """Given 3 discovery searches a day with 1 kept for manual cycles, when two event cycles and a manual one run, then the automatic ones stop at 2 (the second parks, saying why) and the manual one takes the last."""
    truncate(pg_engine)
    emulator.reset()
    ctx = make_pipeline_ctx(
        emulator,
        clock,
        discovery_finished_queue=EVENTS,
        discovery_daily_searches=3,
        discovery_manual_reserve=1,
    )
    drain_events(EVENTS)
    a, b, c = keywords_of(emulator, 3)
    try:
        with running_worker(rabbit_broker, ctx):
            add_watchlist("o", "one", [a, b], ctx=ctx)
            add_watchlist("o", "two", [c], ctx=ctx)
            first = discover("o", "one", trigger="event", ctx=ctx, send=send_all)
            wait_until(lambda: finished(ctx, first), timeout=60)
            second = discover("o", "two", trigger="event", ctx=ctx, send=send_all)
            parked = wait_until(
                lambda: (s := get_cycle_status(second, ctx=ctx))["status"] == "WAITING_QUOTA" and s,
                timeout=30,
            )
            assert "discovery search budget is spent" in parked["waiting_reason"]
            assert parked["waiting_quota_until"] == next_pacific_midnight(clock()).isoformat()
            manual = discover("o", keywords=[c], ctx=ctx, send=send_all)
            wait_until(lambda: finished(ctx, manual), timeout=60)
            assert get_cycle_status(second, ctx=ctx)["status"] == "WAITING_QUOTA"
            assert emulator.usage()["buckets"]["search"]["requests_total"] == 3
            assert [e["cycle_id"] for e in events()] == [first, manual]
    finally:
        ctx.close()


def test_a_cycle_stops_at_its_own_budget_and_says_which_keywords_it_skipped(dctx, emulator):
    """Given a cycle of three keywords with a budget of two searches, when it runs, then two are searched, the third is skipped with the reason, and it finishes."""
    words = keywords_of(emulator, 3)
    cycle_id = discover(
        "o", keywords=words, options={"search_budget": 2}, ctx=dctx, send=lambda s: run_inline(dctx, list(s))
    )
    status = get_cycle_status(cycle_id, ctx=dctx)
    assert status["status"] == "FINISHED"
    keywords = status["summary"]["keywords"]
    assert [k["status"] for k in keywords] == ["DONE", "DONE", "SKIPPED"]
    assert keywords[2]["error"] == "the cycle's search budget of 2 is spent"
    assert calls(dctx, cycle_id, "search.list") == 2 == status["search_calls"]


def test_a_spent_search_bucket_parks_the_cycle_until_the_day_turns_and_then_it_finishes(
    dworker, dctx, emulator, clock
):
    """Given every key's search bucket spent at the emulator, when a cycle runs, then it parks until Pacific midnight and says so; once the emulator's day turns, reconcile sends it again and it finishes once."""
    for key in KEYS:  # spend the day's 100 searches of each key's project, outside ytcollect
        api = RawClient(emulator.base_url, key=key)
        while api.get("/youtube/v3/search", part="id", q="x", type="channel").status == 200:
            pass
    words = keywords_of(emulator, 2)
    add_watchlist("o", "night", words, ctx=dctx)
    cycle_id = discover("o", "night", ctx=dctx, send=send_all)

    parked = wait_until(
        lambda: (s := get_cycle_status(cycle_id, ctx=dctx))["status"] == "WAITING_QUOTA" and s, timeout=30
    )
    midnight = next_pacific_midnight(clock())
    assert parked["waiting_quota_until"] == midnight.isoformat()
    assert (
        "search bucket is spent" in parked["waiting_reason"] and "resumes after" in parked["waiting_reason"]
    )
    assert parked["search_calls"] == 0  # the refused searches were given back
    report = maintenance.reconcile(dctx)
    assert cycle_id not in report.discovery.get("resumed", [])  # not before the day turns

    turn = midnight - clock() + timedelta(minutes=1)
    clock.advance(turn)
    emulator.advance_clock(turn)
    report = maintenance.reconcile(dctx)
    assert report.discovery["resumed"] == [cycle_id]
    send_all(report.sends)

    status = wait_until(lambda: finished(dctx, cycle_id), timeout=60)
    assert status["summary"]["keywords_searched"] == 2 and status["search_calls"] == 2
    assert status["summary"]["channels_total"] > 0
    assert [e["cycle_id"] for e in events()] == [cycle_id]
    assert maintenance.reconcile(dctx).discovery == {}
    assert_no_key_stored(dctx)


# --- exactly once under redelivery and lost events --------------------------------------------------------


def test_a_lost_discovery_finished_is_published_by_reconcile_exactly_once(dctx, emulator, clock):
    """Given a finished cycle whose winner died before publishing, when reconcile runs after the grace period, then it publishes the event once."""
    cycle_id = discover(
        "o", keywords=keywords_of(emulator, 1), ctx=dctx, send=lambda s: run_inline(dctx, list(s))
    )
    assert [e["cycle_id"] for e in events()] == [cycle_id]
    with dctx.session() as s:  # as if the winner died between its commit and its publish
        s.execute(
            sa.update(DiscoveryCycle).where(DiscoveryCycle.id == cycle_id).values(finished_event_sent_at=None)
        )
    assert maintenance.reconcile(dctx).discovery == {}  # within the grace period: left to the winner
    clock.advance(timedelta(minutes=2))
    assert maintenance.reconcile(dctx).discovery == {"events_republished": [cycle_id]}
    assert maintenance.reconcile(dctx).discovery == {}
    sent = events()
    assert [e["cycle_id"] for e in sent] == [cycle_id] and sent[0]["event_id"]


def test_a_cycle_nobody_moved_is_resent_and_finished_once(dctx, emulator, clock):
    """Given a cycle recorded but never run (its message lost), when reconcile finds it stuck, then it resends it and the cycle finishes once."""
    lost: list[Any] = []
    cycle_id = discover("o", keywords=keywords_of(emulator, 1), ctx=dctx, send=lost.extend)
    assert lost and get_cycle_status(cycle_id, ctx=dctx)["status"] == "PENDING"
    clock.advance(timedelta(seconds=dctx.settings.reconcile_stuck_after_seconds + 1))
    report = maintenance.reconcile(dctx)
    assert report.discovery == {"resent": [cycle_id]}
    run_inline(dctx, report.sends)
    run_inline(dctx, lost)  # the lost message turns up after all: nothing more happens
    assert get_cycle_status(cycle_id, ctx=dctx)["status"] == "FINISHED"
    assert [e["cycle_id"] for e in events()] == [cycle_id]
    assert calls(dctx, cycle_id, "search.list") == 1


def test_deleting_a_watchlist_finishes_its_open_cycle_with_that_reason(dctx, emulator):
    """Given a recorded cycle of a watchlist, when the watchlist is deleted, then the cycle finishes once with the reason and later deliveries do nothing."""
    add_watchlist("o", "gone", keywords_of(emulator, 1), ctx=dctx)
    lost: list[Any] = []
    cycle_id = discover("o", "gone", ctx=dctx, send=lost.extend)
    delete_watchlist("o", "gone", ctx=dctx)
    run_inline(dctx, lost)
    status = get_cycle_status(cycle_id, ctx=dctx)
    assert status["status"] == "FINISHED" and "watchlist was deleted" in status["error"]
    assert calls(dctx, cycle_id, "search.list") == 0
    assert [e["cycle_id"] for e in events()] == [cycle_id]


# --- the scheduled trigger ----------------------------------------------------------------------------------


def test_the_schedule_records_one_cycle_per_slot_rotating_the_keywords(dctx, emulator, clock):
    """Given a watchlist due every hour with two of three keywords a cycle, when the schedule ticks twice, an hour passes, and it ticks again, then there is one cycle per slot and the keywords rotate."""
    words = keywords_of(emulator, 3)
    add_watchlist("o", "hourly", words, {"interval_hours": 1, "keywords_per_cycle": 2}, ctx=dctx)
    first_ids, first_sends = schedule_due(dctx)
    assert schedule_due(dctx) == ([], [])  # a duplicate tick
    assert len(first_ids) == 1 and get_cycle_status(first_ids[0], ctx=dctx)["keywords"] == words[:2]
    clock.advance(timedelta(hours=1, minutes=1))
    assert schedule_due(dctx) == ([], [])  # the first cycle is still open: the next one waits for it
    run_inline(dctx, first_sends)
    second_ids, second_sends = schedule_due(dctx)
    assert get_cycle_status(second_ids[0], ctx=dctx)["keywords"] == [words[2], words[0]]
    run_inline(dctx, second_sends)
    assert [e["cycle_id"] for e in events()] == first_ids + second_ids
    assert {get_cycle_status(i, ctx=dctx)["trigger"] for i in first_ids + second_ids} == {"scheduled"}


def test_a_real_periodiq_process_starts_a_scheduled_cycle_that_finishes_once(
    dworker, dctx, emulator, tmp_path
):
    """Given a watchlist due now, when a real `periodiq actors` process ticks, then the worker runs one scheduled cycle to its end with one event."""
    add_watchlist("o", "daily", keywords_of(emulator, 1), {"interval_hours": 24}, ctx=dctx)
    env = service_env(emulator, DISCOVERY_CRON="* * * * *", RECONCILE_CRON="0 0 1 1 *")
    log_path = tmp_path / "periodiq.log"
    with open(log_path, "wb") as log:
        scheduler = subprocess.Popen(
            [str(Path(sys.executable).with_name("periodiq")), "actors"],  # as the Procfile runs it
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        cycle = wait_until(lambda: _scheduled_cycle(dctx), timeout=100, interval=0.5)
        status = wait_until(lambda: finished(dctx, cycle), timeout=60)
    finally:
        os.killpg(scheduler.pid, signal.SIGTERM)
        scheduler.wait(15)
    assert status["trigger"] == "scheduled" and status["summary"]["channels_total"] > 0, log_path.read_text()
    assert count(dctx, DiscoveryCycle) == 1
    assert [e["cycle_id"] for e in events()] == [cycle]
    with dctx.session() as s:
        watchlist = s.exec(sa.select(Watchlist)).scalars().one()
    assert watchlist.next_due_at is not None and watchlist.next_due_at - dctx.now() > timedelta(hours=23)


def _scheduled_cycle(ctx: Any) -> str | None:
    with ctx.session() as s:
        return s.execute(sa.select(DiscoveryCycle.id).where(DiscoveryCycle.trigger == "scheduled")).scalar()


# --- the CLI --------------------------------------------------------------------------------------------------


def ytcollect(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", *args],
        cwd=cwd,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_manages_watchlists_runs_a_cycle_and_lists_what_it_found(dworker, dctx, emulator, tmp_path):
    """Given the real services, when `ytcollect watchlists add`, `discover --wait` and `discoveries` run, then the cycle finishes once and its channels list in table, CSV and JSON."""
    env = service_env(emulator)
    words = keywords_of(emulator, 1)
    added = ytcollect(
        env, tmp_path, "watchlists", "add", "cli-list", "--keywords", words[0], "--owner-id", "team"
    )
    assert added.returncode == 0, added.stderr
    done = ytcollect(env, tmp_path, "discover", "cli-list", "--owner-id", "team", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["status"] == "FINISHED" and status["trigger"] == "manual"
    wait_until(lambda: finished(dctx, status["cycle_id"]), timeout=10)
    assert [e["cycle_id"] for e in events()] == [status["cycle_id"]]

    as_json = ytcollect(env, tmp_path, "discoveries", "cli-list", "--owner-id", "team", "--format", "json")
    rows = json.loads(as_json.stdout)
    assert {r["channel_id"] for r in rows} == {c["channel_id"] for c in status["summary"]["channels"]}
    assert all(r["new"] for r in rows)
    as_csv = ytcollect(
        env, tmp_path, "discoveries", "cli-list", "--owner-id", "team", "--format", "csv", "--new"
    )
    assert as_csv.stdout.splitlines()[0].startswith("channel_id,new,title")
    assert len(as_csv.stdout.splitlines()) == len(rows) + 1
    table = ytcollect(env, tmp_path, "discoveries", "cli-list", "--owner-id", "team")
    assert "score*" in table.stdout and "* score computed by ytcollect" in table.stdout
    report = ytcollect(env, tmp_path, "cycle", status["cycle_id"])
    assert "new since the last cycle" in report.stdout


def test_the_cli_answers_bad_input_with_one_line_and_a_nonzero_exit(dworker, dctx, emulator, tmp_path):
    """Given bad keywords or another owner's watchlist, when the CLI is asked, then it prints one error line, exits non-zero and records nothing."""
    env = service_env(emulator)
    add_watchlist("alice", "alices", keywords_of(emulator, 1), ctx=dctx)
    cases = [
        (["discover", "--keywords", ""], 2, "keywords is empty"),
        (["discover", "--keywords", ",".join(f"k{i}" for i in range(1_000))], 2, "too many keywords: 1,000"),
        (["discover", "--keywords", "x" * 5_000], 2, "5,000 characters long"),
        (["discover", "alices", "--owner-id", "mallory"], 1, "watchlist 'alices' not found"),
        (["discoveries", "alices", "--owner-id", "mallory"], 1, "watchlist 'alices' not found"),
    ]
    for args, code, message in cases:
        result = ytcollect(env, tmp_path, *args)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == code, (args, result.stderr)
        assert len(errors) == 1 and message in errors[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert count(dctx, DiscoveryCycle) == 0 and count(dctx, Watchlist) == 1
    assert get_watchlist("alice", "alices", ctx=dctx)["keywords"] == keywords_of(emulator, 1)
