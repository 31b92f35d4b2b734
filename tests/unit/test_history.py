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
    """Given snapshots 3 days and then 2 days apart, when points are built, then each delta per day is change / days."""
    points = hist.build_points([snap(0, 100, 1_000, 10), snap(3, 160, 4_000, 13), snap(5, 170, 8_000, 13)])

    first, second, third = points
    assert first.previous_fetched_at is None and first.view_change is None and first.views_per_day is None
    assert second.days_since_previous == pytest.approx(3)
    assert (second.subscriber_change, second.subscribers_per_day) == (60, pytest.approx(20))
    assert (second.view_change, second.views_per_day) == (3_000, pytest.approx(1_000))
    assert (second.video_change, second.videos_per_day) == (3, pytest.approx(1))
    assert third.views_per_day == pytest.approx(2_000)
    assert third.videos_per_day == 0.0


def test_rates_need_at_least_a_day_between_snapshots():
    """Given snapshots 58 seconds apart, when the point is built, then the changes are kept and no rate per day is made up."""
    point = hist.make_point(snap(58 / 86_400, 1_500, 47_000_000), snap(0, 1_400, 1_000))

    assert point.view_change == 46_999_000 and point.views_per_day is None
    assert point.subscriber_change == 100 and point.subscribers_per_day is None
    assert point.subscribers_per_day_bounds is None and point.videos_per_day is None
    assert hist.make_point(snap(1, 1_500), snap(0, 1_400)).subscribers_per_day == pytest.approx(100)


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


# --- the chart: readable for 2 and 200 channels, never writing where it should not -------------


def world(channels: int, *, spread: float = 10.0) -> dict[str, list[hist.HistoryPoint]]:
    """``channels`` histories of 4 daily snapshots, the i-th channel ``spread``**(i/channels) times larger."""
    out = {}
    for i in range(channels):
        base = int(1_000 * spread ** (i / max(1, channels - 1)))
        cid = f"UC{i:021d}A"
        out[cid] = hist.build_points([snap(d, base + d * 10, base * 100 + d) for d in range(4)])
    return out


def draw(histories, path, **options):
    """plot_history with every warning an error: a missing glyph must not even warn."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return hist.plot_history(histories, path, **options)


def test_chart_of_200_channels_draws_the_top_n_by_the_metric(tmp_path, monkeypatch):
    """Given 200 channels, when charted, then only the 10 largest by the latest value are drawn, in rank order, and the title says so."""
    drawn = {}
    real_draw = hist._draw

    def spy(series, chosen, available, **kwargs):
        drawn.update(chosen=chosen, available=available)
        figure = real_draw(series, chosen, available, **kwargs)
        drawn["title"] = figure.axes[0].get_title()
        drawn["legend"] = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
        drawn["scale"] = figure.axes[0].get_yscale()
        return figure

    monkeypatch.setattr(hist, "_draw", spy)
    histories = world(200, spread=10_000)
    draw(histories, tmp_path / "big.png")

    assert drawn["available"] == 200 and len(drawn["chosen"]) == hist.DEFAULT_TOP
    assert drawn["chosen"] == list(histories)[::-1][: hist.DEFAULT_TOP]  # the largest first
    assert "top 10 of 200 channels" in drawn["title"]
    assert len(drawn["legend"]) == 10 and drawn["scale"] == "linear"  # the top 10 are close together
    assert (tmp_path / "big.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_uses_a_log_axis_when_values_span_a_hundredfold(tmp_path, monkeypatch):
    """Given 2 channels 1,000 times apart, when charted, then the axis is logarithmic and both are drawn."""
    scales = []
    real_draw = hist._draw
    monkeypatch.setattr(
        hist,
        "_draw",
        lambda *a, **k: scales.append(f := real_draw(*a, **k)) or f,
    )
    draw(world(2, spread=1_000), tmp_path / "two.png", metric="views")

    axes = scales[0].axes[0]
    assert axes.get_yscale() == "log" and "log scale" in axes.get_ylabel()
    assert len(axes.get_legend().get_texts()) == 2 and "top" not in axes.get_title()


def test_chart_titles_in_cjk_draw_without_a_missing_glyph(tmp_path):
    """Given Japanese and Korean channel titles, when charted with warnings as errors, then no glyph is missing (a CJK font, or Latin letters)."""
    histories = world(3)
    labels = dict(zip(histories, ["さくらの実況チャンネル", "한국어 채널", "Plain"], strict=True))
    draw(histories, tmp_path / "cjk.png", labels=labels, title="登録者数")
    from pipeline.fonts import chart_fonts, printable

    for text in ("さくらの実況チャンネル", "한국어 채널", "登録者数"):
        shown = printable(text, chart_fonts())
        assert shown == text or shown.isascii()


def test_chart_refuses_to_overwrite_without_force(tmp_path):
    """Given an existing file, when charted without force, then it is refused and kept; with force it is replaced."""
    target = tmp_path / "c.png"
    target.write_bytes(b"keep me")
    with pytest.raises(hist.HistoryError, match="exists: --force overwrites it"):
        draw(world(2), target)
    assert target.read_bytes() == b"keep me"
    draw(world(2), target, force=True)
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_chart_never_writes_through_a_symbolic_link(tmp_path):
    """Given a link at the chart path, when charted, even with force, then it is refused and its target untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "c.png"
    link.symlink_to(victim)
    for force in (False, True):
        with pytest.raises(hist.HistoryError, match="symbolic link"):
            draw(world(2), link, force=force)
    assert victim.read_text() == "precious"


def test_chart_with_a_300_character_name_is_one_line_error(tmp_path):
    """Given a 300-character file name, when charted, then a one-line HistoryError says the name is too long."""
    with pytest.raises(hist.HistoryError) as caught:
        draw(world(2), tmp_path / ("a" * 300 + ".png"))
    message = str(caught.value)
    assert "too long" in message and "\n" not in message and len(message) < 300
