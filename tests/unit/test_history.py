"""History points: the rounding step and bounds of subscriber counts, daily deltas, hidden counts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline import history as hist

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Snap:
    """A snapshot without a database: the fields history reads."""

    fetched_at: datetime
    subscriber_count: int | None = None
    view_count: int | None = None
    video_count: int | None = None
    hidden_subscriber_count: bool = False
    channel_id: str = "UCaaaaaaaaaaaaaaaaaaaaaA"
    run_id: str | None = "run-1"


def snap(
    days: float, subs: int | None, views: int | None = 1_000, videos: int | None = 10, *, hidden: bool = False
) -> Snap:
    return Snap(
        fetched_at=T0 + timedelta(days=days),
        subscriber_count=subs,
        view_count=views,
        video_count=videos,
        hidden_subscriber_count=hidden,
    )


@pytest.mark.parametrize(
    ("count", "step"),
    [
        (0, 1),
        (7, 1),
        (999, 1),
        (1_000, 10),
        (1_234, 10),
        (99_900, 100),
        (100_000, 1_000),
        (1_230_000, 10_000),
        (12_300_000, 100_000),
        (4_560_000_000, 10_000_000),
    ],
)
def test_subscriber_step_is_ten_to_the_digits_minus_three(count, step):
    """Given a reported subscriber count, when its rounding step is asked, then it is 10**(digits-3), or 1 below 1,000."""
    assert hist.subscriber_step(count) == step


@pytest.mark.parametrize(
    ("previous", "current", "bounds"),
    [
        (500, 520, (20, 20)),  # below 1,000 counts are exact
        (1_230_000, 1_230_000, (-9_999, 9_999)),
        (1_230_000, 1_240_000, (1, 19_999)),
        (999_000, 1_000_000, (1, 10_999)),  # the step grows with the digit count
        (1_000_000, 999_000, (-10_999, -1)),
    ],
)
def test_change_bounds_cover_every_true_count_behind_two_rounded_reports(previous, current, bounds):
    """Given two rounded-down reports, when their change bounds are computed, then they span every true change."""
    assert hist.subscriber_change_bounds(previous, current) == bounds
    step_p, step_c = hist.subscriber_step(previous), hist.subscriber_step(current)
    true_changes = [c - p for p in (previous, previous + step_p - 1) for c in (current, current + step_c - 1)]
    assert bounds == (min(true_changes), max(true_changes))


def test_an_unchanged_rounded_count_is_below_the_rounding_step_not_no_growth():
    """Given the same 1.23M count twice, when the later point is built, then it reads "below rounding step" with no 0/day rate."""
    point = hist.make_point(snap(2, 1_230_000), snap(0, 1_230_000))

    assert point.subscriber_change == 0
    assert point.subscriber_below_step is True
    assert point.subscriber_resolution == 10_000
    assert point.subscriber_growth == "≤ 10,000 (below rounding step)"
    assert "no growth" not in point.subscriber_growth
    assert point.subscribers_per_day is None
    assert point.subscriber_change_bounds == (-9_999, 9_999)
    assert point.subscribers_per_day_bounds == pytest.approx((-9_999 / 2, 9_999 / 2))


def test_an_unchanged_exact_count_is_a_real_zero():
    """Given the same count below 1,000 twice, when the later point is built, then the change is an exact 0 per day."""
    point = hist.make_point(snap(1, 640), snap(0, 640))

    assert point.subscriber_growth == "0"
    assert point.subscriber_below_step is False
    assert point.subscribers_per_day == 0.0
    assert point.subscriber_change_bounds == (0, 0)


def test_changes_are_signed_and_marked_approximate_when_rounded():
    """Given rising, falling and exact counts, when points are built, then growth reads +/- with ≈ for rounded counts."""
    assert hist.make_point(snap(1, 1_240_000), snap(0, 1_230_000)).subscriber_growth == "≈ +10,000"
    assert hist.make_point(snap(1, 1_220_000), snap(0, 1_230_000)).subscriber_growth == "≈ -10,000"
    assert hist.make_point(snap(1, 737), snap(0, 700)).subscriber_growth == "+37"


def test_daily_deltas_divide_the_change_by_the_elapsed_days():
    """Given snapshots 3 days and then 12 hours apart, when points are built, then each delta per day is change / days."""
    points = hist.build_points([snap(0, 100, 1_000, 10), snap(3, 160, 4_000, 13), snap(3.5, 170, 5_000, 13)])

    first, second, third = points
    assert first.previous_fetched_at is None and first.view_change is None and first.views_per_day is None
    assert second.days_since_previous == pytest.approx(3)
    assert (second.subscriber_change, second.subscribers_per_day) == (60, pytest.approx(20))
    assert (second.view_change, second.views_per_day) == (3_000, pytest.approx(1_000))
    assert (second.video_change, second.videos_per_day) == (3, pytest.approx(1))
    assert third.views_per_day == pytest.approx(2_000)
    assert third.videos_per_day == 0.0


def test_a_baseline_gives_the_first_point_of_a_window_its_deltas():
    """Given a baseline before the window, when points are built, then the first point's deltas are against it."""
    points = hist.build_points([snap(10, 1_500)], baseline=snap(5, 1_400))

    assert points[0].subscriber_change == 100
    assert points[0].subscribers_per_day == pytest.approx(20)
    assert points[0].previous_fetched_at == T0 + timedelta(days=5)


def test_hidden_counts_have_no_subscriber_deltas_but_keep_view_deltas():
    """Given a count hidden now or before, when points are built, then subscriber values and deltas are None, views still move."""
    hidden_now = hist.make_point(snap(1, 1_000_000, 2_000, hidden=True), snap(0, 1_000_000, 1_000))
    hidden_before = hist.make_point(snap(2, 1_000_000, 3_000), snap(1, None, 2_000, hidden=True))

    assert hidden_now.hidden is True
    assert hidden_now.subscribers is None and hidden_now.subscriber_resolution is None
    for point in (hidden_now, hidden_before):
        assert point.subscriber_change is None
        assert point.subscriber_change_bounds is None
        assert point.subscribers_per_day is None
        assert point.subscriber_growth is None
        assert point.subscriber_below_step is False
        assert point.view_change == 1_000
    assert hidden_before.subscribers == 1_000_000


def test_snapshots_at_the_same_instant_have_a_change_but_no_rate():
    """Given two snapshots with the same timestamp, when the point is built, then the change is kept and rates are None."""
    point = hist.make_point(snap(1, 800, 2_000), snap(1, 790, 1_000))

    assert point.subscriber_change == 10 and point.subscribers_per_day is None
    assert point.view_change == 1_000 and point.views_per_day is None
    assert point.subscribers_per_day_bounds is None


def test_rows_are_flat_and_json_ready():
    """Given a point with bounds, when it becomes a row, then bounds split into min/max columns and it dumps as JSON."""
    row = hist.make_point(snap(2, 1_230_000), snap(0, 1_230_000)).as_row()

    assert row["subscriber_change_min"] == -9_999 and row["subscriber_change_max"] == 9_999
    assert row["subscriber_growth"].startswith("≤ 10,000")
    assert row["fetched_at"] == (T0 + timedelta(days=2)).isoformat()
    assert json.loads(json.dumps(row)) == row


def test_metric_names_are_checked():
    """Given a point, when an unknown metric is asked, then a ValueError names the valid ones."""
    point = hist.make_point(snap(0, 10))
    assert point.metric("videos") == 10
    with pytest.raises(ValueError, match="subscribers, views, videos"):
        point.metric("likes")


def test_plot_refuses_empty_data_and_a_missing_folder(tmp_path):
    """Given no plottable points or a folder that does not exist, when plotting, then a HistoryError says why."""
    hidden_only = {"UCx": [hist.make_point(snap(0, None, hidden=True))]}
    with pytest.raises(hist.HistoryError, match="no subscribers data"):
        hist.plot_history(hidden_only, tmp_path / "out.png")
    with pytest.raises(hist.HistoryError, match="does not exist"):
        hist.plot_history({"UCx": [hist.make_point(snap(0, 5))]}, tmp_path / "nope" / "out.png")
    with pytest.raises(hist.HistoryError, match="unknown metric"):
        hist.plot_history({"UCx": [hist.make_point(snap(0, 5))]}, tmp_path / "out.png", metric="likes")
    assert not list(tmp_path.iterdir())


def test_since_takes_a_real_iso_day_only():
    """Given --since texts, when parsed, then only a real YYYY-MM-DD day passes and the rest say what is expected."""
    assert hist.parse_day("2026-02-28") == date(2026, 2, 28)
    for bad in ("28/02/2026", "2026-2-28", "yesterday", "2026-02-28T00:00"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            hist.parse_day(bad)
    with pytest.raises(ValueError, match="not a real date"):
        hist.parse_day("2026-02-30")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (0, "0"),
        (3.33, "+3.3"),
        (740, "+740"),
        (9_999, "+9,999"),
        (12_345, "+12.3k"),
        (999_999, "+1.00M"),
        (1_250_000, "+1.25M"),
        (-20_000, "-20.0k"),
        (4_560_000_000, "+4.56B"),
    ],
)
def test_table_numbers_are_short_with_three_significant_figures(value, text):
    """Given a count or change, when shown in a table, then it keeps 3 significant figures from 10,000 up and a sign."""
    assert hist.short_number(value, signed=True) == text
