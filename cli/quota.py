"""``ytcollect quota``: today's use per API key fingerprint in each bucket, their state and when the day resets."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.table import Table

from cli.app import app, console, err_console
from pipeline import resources
from pipeline.config import get_settings
from pipeline.youtube.quota import BUCKETS, PACIFIC, KeyStatus, QuotaLedger, amount


def _redis_location(url: str) -> str:
    """host:port/db of a Redis URL, without the password it may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 6379}{parts.path or ''}"


def _as_dict(status: KeyStatus) -> dict[str, object]:
    return {
        "fingerprint": status.fingerprint,
        "day": status.day.isoformat(),
        "used": status.used,
        "left": status.left,
        "state": status.state,
        "reason": status.reason,
        "resets_at_utc": status.resets_at.astimezone(UTC).isoformat(),
        "resets_at_pacific": status.resets_at.astimezone(PACIFIC).isoformat(),
        "buckets": {
            name: {"used": b.used, "left": b.left, "cap": b.cap, "state": b.state, "reason": b.reason}
            for name, b in status.buckets.items()
        },
    }


def _bucket_totals(ledger: QuotaLedger) -> dict[str, dict[str, int]]:
    """Per bucket: its cap and interactive reserve per key, and what is left for each priority."""
    return {
        bucket: {
            "cap_per_key": ledger.caps[bucket],
            "interactive_reserve": ledger.reserves[bucket],
            "left_interactive": ledger.units_left(bucket=bucket),
            "left_system": ledger.units_left(bucket=bucket, priority="system"),
        }
        for bucket in BUCKETS
    }


@app.command("quota")
def quota(
    as_json: Annotated[bool, typer.Option("--json/--no-json", help="Print JSON instead of a table.")] = False,
    enable: Annotated[
        list[str] | None,
        typer.Option("--enable", metavar="FINGERPRINT", help="Re-enable a disabled key, once fixed."),
    ] = None,
) -> None:
    """Show each API key's use and room today (Pacific day) in each quota bucket, its state and the reset time.

    Buckets: default (units of every method but two), search (search.list calls), video_stats
    (videos.batchGetStats units). A spent bucket stops only its own methods.
    """
    import redis

    settings = get_settings()
    embedded = settings.redis_url is None
    if embedded:
        err_console.print(
            "[yellow]No REDIS_URL set: the embedded mode keeps quota in-process, so there is nothing "
            "persistent to show. Below is the empty ledger for the configured keys.[/yellow]"
        )
    ledger = resources.quota_ledger(settings, resources.open_redis(settings))
    try:
        for fingerprint in enable or []:
            if fingerprint not in ledger.fingerprints:
                err_console.print(f"[red]No configured key has the fingerprint {fingerprint!r}.[/red]")
                raise typer.Exit(2)
            ledger.enable(fingerprint)
        statuses = ledger.status()
        resets_at = ledger.resets_at()
        left_system = ledger.units_left(priority="system")
        totals = _bucket_totals(ledger)
    except redis.RedisError as exc:
        where = _redis_location(settings.redis_url or "")
        err_console.print(
            f"[red]Cannot read the quota ledger from Redis at {where}: {type(exc).__name__}[/red]"
        )
        raise typer.Exit(1) from None

    if as_json:
        print(
            json.dumps(
                {
                    "mode": "embedded" if embedded else "redis",
                    "cap_per_key": ledger.cap,
                    "interactive_reserve": ledger.interactive_reserve,
                    "units_left_interactive": sum(s.left for s in statuses if s.state == "ok"),
                    "units_left_system": left_system,
                    "buckets": totals,
                    "resets_at_utc": resets_at.astimezone(UTC).isoformat(),
                    "resets_at_pacific": resets_at.astimezone(PACIFIC).isoformat(),
                    "keys": [_as_dict(s) for s in statuses],
                },
                indent=2,
            )
        )
        return

    if not statuses:
        console.print("No YouTube API keys configured (set YT_API_KEYS).")
    else:
        table = Table(title=f"YouTube API quota, Pacific day {statuses[0].day.isoformat()}")
        table.add_column("key")
        table.add_column("bucket")
        table.add_column("used", justify="right")
        table.add_column("left", justify="right")
        table.add_column("state")
        table.add_column("reason")
        for s in statuses:
            for name, b in s.buckets.items():
                style = {"ok": "green", "spent": "yellow", "disabled": "red"}.get(b.state, "")
                table.add_row(
                    s.fingerprint if name == BUCKETS[0] else "",
                    name,
                    f"{b.used:,}",
                    f"{b.left:,}",
                    f"[{style}]{b.state}[/{style}]",
                    b.reason or "",
                )
        console.print(table)
    for bucket, t in totals.items():
        console.print(
            f"{bucket}: cap per key {amount(t['cap_per_key'], bucket)}; system work stops "
            f"{amount(t['interactive_reserve'], bucket)} short ({t['left_system']:,} left for it, "
            f"{t['left_interactive']:,} for interactive work)."
        )
    console.print(
        f"Resets at {resets_at.astimezone(PACIFIC):%Y-%m-%d %H:%M %Z} "
        f"({resets_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)."
    )
