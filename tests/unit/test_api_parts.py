"""The HTTP API's pure parts: charts, event coalescing, history periods, progress snapshots, error sentences,
body limits, token redaction. No service: the progress stream runs on the in-process Redis stand-in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import fakeredis
import pytest

from api import charts
from api.live import coalesce
from pipeline import progress
from pipeline.channels import aggregate, period_start
from pipeline.completion import LiveState, RunCompletion
from pipeline.history import HistoryPoint
from pipeline.progress import ProgressEvent, ProgressStream
from pipeline.youtube.quota import by_bucket
from pipeline.youtube.redact import redact


def test_bar_chart_escapes_labels_and_scales_to_the_largest_value():
    """Given two channels, one titled with markup, when a bar chart is drawn, then the title is escaped and the largest bar is the widest."""
    svg = charts.bar_chart([("<script>x</script>", 2_000_000), ("small", 1_000)], title="subs")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    widths = [float(part.split('"')[0]) for part in svg.split('width="')[2:4]]
    assert widths[0] > widths[1] * 100
    assert "2.00M" in svg and svg.startswith("<svg") and svg.endswith("</svg>")


def test_bar_chart_marks_hidden_counts_and_draws_nothing_for_no_items():
    """Given a hidden subscriber count, when drawn, then it is labelled hidden; and no items give no chart."""
    assert "hidden" in charts.bar_chart([("a", None), ("b", 5)], title="t")
    assert charts.bar_chart([], title="t") == ""


def test_line_chart_draws_one_polyline_per_series_with_dated_axis():
    """Given two points a week apart, when a line chart is drawn, then it has a polyline with two points and the two dates on the axis."""
    points = [(datetime(2026, 11, 1, tzinfo=UTC), 100.0), (datetime(2026, 11, 8, tzinfo=UTC), 150.0)]
    svg = charts.line_chart([("subscribers", points)], title="subs")
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 2
    assert "2026-11-01" in svg and "2026-11-08" in svg
    assert charts.line_chart([("x", [(points[0][0], None)])], title="t") == ""


@pytest.mark.parametrize(
    ("value", "text"), [(950, "950"), (12_345, "12.3k"), (4_560_000, "4.56M"), (None, "–")]
)
def test_short_numbers(value, text):
    """Given a count, when shortened for a chart label, then it reads with three significant figures."""
    assert charts.short(value) == text


def test_coalesce_keeps_the_newest_progress_and_every_finished_event():
    """Given a batch of progress events and a finished one, when coalesced, then only the newest progress and the finished remain, in order."""
    events = [ProgressEvent(f"1-{i}", "progress", {"n": i}) for i in range(5)]
    events.append(ProgressEvent("1-9", "finished", {}))
    assert [e.id for e in coalesce(events)] == ["1-4", "1-9"]
    assert coalesce([]) == []


def _point(day: int, subs: int) -> HistoryPoint:
    return HistoryPoint("UC1", datetime(2026, 11, day, 12, tzinfo=UTC), None, subs, 10 * subs, 5, False, 1)


def test_history_aggregates_to_the_last_snapshot_of_each_week():
    """Given snapshots on three days of two ISO weeks, when aggregated by week, then each week shows its last snapshot and the change since the previous week."""
    rows = aggregate([_point(2, 100), _point(4, 120), _point(10, 150)], "week")  # Mon 2, Wed 4, Tue 10
    assert [(r["period_start"], r["subscribers"], r["subscriber_change"]) for r in rows] == [
        ("2026-11-02", 120, None),
        ("2026-11-09", 150, 30),
    ]
    assert period_start(datetime(2026, 11, 30, tzinfo=UTC), "month") == date(2026, 11, 1)
    with pytest.raises(ValueError, match="interval must be one of day, week, month"):
        period_start(datetime(2026, 11, 30, tzinfo=UTC), "year")


def test_progress_payload_counts_open_jobs_together_and_totals_every_job():
    """Given live state with done, failed, waiting and open jobs, when made a progress payload, then counts group open jobs and progress is settled/total."""
    live = LiveState(
        remaining=6, unresolved=2, counts={"DONE": 3, "FAILED": 1}, waiting=2, units={"channels.list": 4}
    )
    data = progress.progress_payload("r1", live, settled=2)
    assert data["status_counts"] == {"DONE": 3, "FAILED": 1, "WAITING_QUOTA": 2, "IN_PROGRESS": 4}
    assert (data["total_jobs"], data["remaining"], data["progress"], data["settled"]) == (10, 6, 0.4, 2)
    assert data["quota_units"] == {
        "total": 4,
        "by_method": {"channels.list": 4},
        "by_bucket": {"default": 4, "search": 0, "video_stats": 0},
    }


def test_each_new_count_publishes_a_progress_snapshot_on_the_runs_hash_tag():
    """Given a registered run of four jobs, when the advance step counts three (one of them twice), then each new count appends one snapshot to ytc:{run}:events and the redelivery adds none."""
    from types import SimpleNamespace

    from pipeline.stages.advance import Progress, advance

    redis = fakeredis.FakeRedis(decode_responses=True)
    ctx = SimpleNamespace(redis=redis, completion=RunCompletion(redis))
    ctx.completion.register("r1", total_jobs=4, unresolved_jobs=0)
    advance(ctx, "r1", Progress(terminal={1: "DONE"}))  # type: ignore[arg-type]
    advance(ctx, "r1", Progress(terminal={1: "DONE"}, redelivered=True))  # type: ignore[arg-type]
    sends = advance(ctx, "r1", Progress(terminal={2: "FAILED", 3: "DONE"}))  # type: ignore[arg-type]

    events = ProgressStream(redis).after("r1", "0-0")
    assert progress.events_key("r1") == "ytc:{r1}:events"
    assert [e.data["progress"] for e in events] == [0.25, 0.75]
    assert [e.data["settled"] for e in events] == [1, 2]
    assert events[-1].data["status_counts"] == {"DONE": 2, "FAILED": 1, "IN_PROGRESS": 1}
    assert sends == []
    assert 0 < redis.ttl("ytc:{r1}:events") <= 14 * 86_400


def test_the_final_event_shortens_the_streams_life_and_is_read_newest_first():
    """Given a run's stream, when the finished event is published, then it is the newest entry and the stream expires within the hour."""
    redis = fakeredis.FakeRedis(decode_responses=True)
    stream = ProgressStream(redis)
    first = stream.publish("r2", "progress", {"progress": 0.5})
    last = stream.publish_final("r2", {"run_status": "FINISHED", "progress": 1.0})
    assert [e.id for e in stream.newest("r2", count=2)] == [last, first]
    assert stream.latest_id("r2") == last and stream.oldest_id("r2") == first
    assert 0 < redis.ttl("ytc:{r2}:events") <= progress.FINISHED_STREAM_TTL_SECONDS
    assert progress.final_event({"run_status": "RUNNING"}) is None
    assert progress.final_event({"run_status": "CANCELLED"}).event == "finished"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1-0", True),
        ("1700000000000-3", True),
        ("5", True),
        ("x-1", False),
        ("", False),
        (None, False),
        ("-1-2", False),
    ],
)
def test_last_event_ids_are_stream_ids_or_ignored(text, ok):
    """Given a Last-Event-ID header, when checked, then only a Redis stream id is used for resuming."""
    assert progress.valid_id(text) is ok


def test_quota_units_are_grouped_by_the_apis_buckets():
    """Given units by method, when grouped, then search.list and videos.batchGetStats get buckets of their own."""
    grouped = by_bucket({"channels.list": 5, "videos.list": 2, "search.list": 1, "videos.batchGetStats": 3})
    assert grouped["default"] == {"units": 7, "by_method": {"channels.list": 5, "videos.list": 2}}
    assert grouped["search"]["units"] == 1 and grouped["video_stats"]["units"] == 3


def test_api_tokens_are_redacted_from_any_text():
    """Given a message holding a bearer token, when redacted, then the token is gone and the rest stays."""
    token = "ytc_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
    assert redact(f"Authorization: Bearer {token} for alice") == "Authorization: Bearer REDACTED for alice"


def test_validation_errors_become_one_sentence():
    """Given a pydantic validation failure of two fields, when turned into the 422 detail, then it is one line naming the first field and how many more."""
    from fastapi.exceptions import RequestValidationError

    from api.app import _sentence

    exc = RequestValidationError(
        [
            {"loc": ("body", "analysis_id"), "msg": "Field required", "type": "missing"},
            {"loc": ("body", "channel_inputs"), "msg": "Field required", "type": "missing"},
        ]
    )
    assert _sentence(exc) == "analysis_id: Field required (and 1 more problem)"


def test_run_page_names_the_bucket_its_parked_jobs_wait_for():
    """Given a running run with 2 jobs waiting for the search bucket, when its page is rendered, then it says
    how many wait for which bucket, when they resume, and that the rest of the run goes on."""
    from api.dashboard import templates

    run = {
        "run_id": "r" * 36,
        "analysis_id": "a",
        "total_inputs": 3,
        "total_jobs": 3,
        "created_at": "2026-12-01T10:00:00+00:00",
        "finished_at": None,
        "parent_run_id": None,
        "progress": 0.5,
        "run_status": "RUNNING",
        "error": None,
        "waiting_quota_until": "2026-12-02T08:00:00+00:00",
        "waiting_quota": {"search": {"waiting": 2, "resumes_at": "2026-12-02T08:00:00+00:00"}},
    }
    html = templates.get_template("run.html").render(
        run=run, counts=[], summary={}, buckets={}, units_total=0, channels=[], attention=[],
        chart="", views_chart="", principal=None, live=True, request=None,
    )  # fmt: skip
    assert "waiting for quota: 2 for the search bucket, resumes after 2026-12-02 08:00:00 UTC" in html


def test_a_chunked_body_past_its_paths_own_limit_is_refused_413():
    """Given a body limit of 1,000 bytes with 100 for /v1/watchlists, when a chunked body (no Content-Length) of 300 bytes arrives on each path, then /v1/watchlists answers 413 naming 100 bytes and /v1/runs reads it whole."""
    import asyncio
    import json

    from api.limits import BodyLimit

    async def app(scope, receive, send):  # reads the whole body, then answers its size
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    limited = BodyLimit(app, max_bytes=1_000, by_prefix={"/v1/watchlists": 100})

    async def post(path):
        chunks = [{"type": "http.request", "body": b"x" * 100, "more_body": True} for _ in range(3)]
        chunks[-1]["more_body"] = False
        sent = []

        async def receive():
            return chunks.pop(0)

        async def send(message):
            sent.append(message)

        await limited({"type": "http", "path": path, "headers": []}, receive, send)
        return sent[0]["status"], sent[1]["body"]

    assert asyncio.run(post("/v1/watchlists/w")) == (
        413,
        json.dumps({"detail": "the request body is larger than 100 bytes"}).encode(),
    )
    assert asyncio.run(post("/v1/runs")) == (200, b"300")
    assert limited.limit_of("/v1/watchlists") == 100 and limited.limit_of("/v1/discoveries") == 1_000
