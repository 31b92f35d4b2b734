"""Draw ``bench/results_chart.png`` from the recorded ``bench/results/quota.json`` and ``throughput.json``.

    .venv/bin/python -m bench.chart

Left: units spent by the quota benchmark's first run beside the theoretical minimum and the naive
strategy, and the second run (inside the freshness window) beside what it requires. Right: inputs/s
of the pipeline beside no-op chains/s of four Dramatiq actors, per worker configuration (medians).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CHART = HERE / "results_chart.png"


def _label(ax, bars, fmt: str = "{:,.0f}") -> None:  # type: ignore[no-untyped-def]
    for bar in bars:
        ax.annotate(
            fmt.format(bar.get_height()),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )


def draw() -> Path:
    quota = json.loads((RESULTS / "quota.json").read_text())
    throughput = json.loads((RESULTS / "throughput.json").read_text())
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))

    names = ["minimum", "spent", "naive", "2nd run:\nrequired", "2nd run:\nspent"]
    values = [
        quota["minimum"]["total"],
        quota["first_run_units"],
        quota["naive"],
        quota["second_run_required"]["units"],
        quota["second_run_units"],
    ]
    colours = ["#9aa5b1", "#1f77b4", "#d62728", "#9aa5b1", "#1f77b4"]
    _label(left, left.bar(names, values, color=colours))
    left.set_ylabel("YouTube API units")
    left.set_title(f"Quota: {quota['inputs']:,} mixed inputs ({quota['distinct_jobs']:,} distinct)")
    left.margins(y=0.12)

    configs = list(throughput["configs"])
    xs = range(len(configs))
    width = 0.38
    inputs = [throughput["configs"][c]["inputs_per_s_median"] for c in configs]
    chains = [throughput["configs"][c]["chains_per_s_median"] for c in configs]
    _label(
        right,
        right.bar([x - width / 2 for x in xs], inputs, width, label="pipeline inputs/s", color="#1f77b4"),
    )
    _label(
        right,
        right.bar(
            [x + width / 2 for x in xs], chains, width, label="no-op 4-actor chains/s", color="#9aa5b1"
        ),
    )
    right.set_xticks(list(xs), [f"{c} (processes x threads)" for c in configs])
    right.set_ylabel("per second (median of 3)")
    right.set_title(f"Throughput: {throughput['inputs']:,} inputs vs {throughput['chains']:,} no-op chains")
    right.set_ylim(0, max(inputs + chains) * 1.35)  # room for the legend above the bars
    right.legend(loc="upper left", fontsize=8)

    fig.suptitle(f"ytcollect benchmarks, {quota['date']}, {quota['machine']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(CHART, dpi=110)
    plt.close(fig)
    return CHART


if __name__ == "__main__":
    print(draw())
