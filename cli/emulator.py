"""``ytcollect emulator``: serve the bundled YouTube Data API emulator until Ctrl-C."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.markup import escape

from cli.app import app, console, port_is_free
from emulator import Emulator, EmulatorConfig, fingerprint
from emulator.server import serve_forever


class HiddenSubscribers(StrEnum):
    omit = "omit"
    zero = "zero"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@app.command()
def emulator(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8765, help="port to listen on"),
    seed: int = typer.Option(7, help="catalogue seed: the same seed gives the same channels"),
    channels: int = typer.Option(2000, min=1, help="channels in the catalogue"),
    keys: str | None = typer.Option(
        None, help="valid keys, comma-separated (none: any non-empty key is valid)"
    ),
    invalid_keys: str | None = typer.Option(None, help="keys that answer API_KEY_INVALID"),
    disabled_keys: str | None = typer.Option(None, help="keys whose project has the API disabled"),
    restricted_keys: str | None = typer.Option(
        None, help="keys restricted to other APIs (403 forbidden, API_KEY_SERVICE_BLOCKED)"
    ),
    quota: int = typer.Option(10_000, min=0, help="default bucket: units per project per Pacific day"),
    search_quota: int = typer.Option(
        100, min=0, help="search bucket: search.list calls per project per Pacific day"
    ),
    stats_quota: int = typer.Option(
        10_000, min=0, help="video_stats bucket: videos.batchGetStats units per project per Pacific day"
    ),
    latency_ms: float = typer.Option(0, min=0, help="latency added to every API answer"),
    same_project: bool = typer.Option(
        False, "--same-project/--separate-projects", help="all --keys share one project's quota"
    ),
    hidden_subscribers: HiddenSubscribers = typer.Option(
        HiddenSubscribers.omit, help='a hidden subscriber count is left out (omit) or shown as "0" (zero)'
    ),
) -> None:
    """Serve the YouTube Data API v3 emulator at http://HOST:PORT (the API's host root)."""
    port_is_free(host, port)  # before the banner: a busy port is one line, not a banner then Errno 98
    config = EmulatorConfig(
        seed=seed,
        channels=channels,
        keys=_split(keys),
        invalid_keys=_split(invalid_keys),
        disabled_keys=_split(disabled_keys),
        restricted_keys=_split(restricted_keys),
        quota_per_key=quota,
        search_quota_per_key=search_quota,
        stats_quota_per_key=stats_quota,
        latency_ms=latency_ms,
        same_project=same_project,
        hidden_subscriber_mode=hidden_subscribers.value,
    )
    emu = Emulator(config)
    base_url = f"http://{host}:{port}"
    console.print(f"[bold]YouTube Data API emulator[/bold] at {base_url}  (YOUTUBE_API_URL={base_url})")
    console.print(f"catalogue: {channels:,} channels, seed {seed}")
    console.print(
        f"quota per project per Pacific day: default {quota:,} units, search {search_quota:,} calls, "
        f"video_stats {stats_quota:,} units"
    )
    if config.keys:
        grouping = "one shared project" if same_project else "one project each"
        console.print(
            "valid keys (fingerprints): " + ", ".join(fingerprint(k) for k in config.keys) + f" ({grouping})"
        )
    else:
        console.print("open mode: any non-empty key is valid")
    for label, listed in (
        ("invalid", config.invalid_keys),
        ("disabled", config.disabled_keys),
        ("restricted", config.restricted_keys),
    ):
        if listed:
            console.print(f"{label} keys (fingerprints): " + ", ".join(fingerprint(k) for k in listed))
    live = [entry for entry in emu.catalogue.sample(200) if not entry["terminated"]]
    samples = [f"@{live[0]['handle']}", f"https://www.youtube.com/channel/{live[1]['id']}"]
    samples += [f"https://www.youtube.com/@{e['handle']}" for e in live if not e["handle"].isascii()][:1]
    samples += [f"https://www.youtube.com/user/{e['username']}" for e in live if e["username"]][:1]
    samples += [f"https://youtu.be/{e['video_ids'][0]}" for e in live if e["video_ids"]][:1]
    console.print("sample inputs:")
    for sample in samples:
        console.print("  " + escape(sample))
    console.print(f"admin: {base_url}/_emulator/catalogue?limit=10, /_emulator/usage; Ctrl-C to stop")
    serve_forever(emu, host=host, port=port)
