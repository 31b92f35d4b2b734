"""``ytcollect quota`` on the real Redis and in the embedded mode: fingerprints, states, reset time, never a key."""

from __future__ import annotations

import json

import pytest
import redis as redis_lib
import typer
from typer.testing import CliRunner

from cli.app import app
from cli.quota import quota
from pipeline.config import get_settings
from pipeline.youtube.quota import QuotaLedger, key_fingerprint
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.services

# Distinctive keys nobody else configures: the CLI reads the shared "ytc" namespace, so the test
# only ever writes (and then removes) these keys' fingerprints there.
KEYS = [
    "AIzaFakeKey-DISTINCTIVE-CLI-0001",
    "AIzaFakeKey-DISTINCTIVE-CLI-0002",
    "AIzaFakeKey-DISTINCTIVE-CLI-0003",
]
FP = [key_fingerprint(k) for k in KEYS]


@pytest.fixture
def cli():
    """Invoke the quota command through a Typer app of its own (the shared app may hold one command only)."""
    wrapper = typer.Typer()
    wrapper.callback()(lambda: None)
    wrapper.command("quota")(quota)
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(wrapper, ["quota", *args])
        return result, result.stdout, result.stderr

    return invoke


@pytest.fixture
def settings_env(monkeypatch):
    """Point settings at the test Redis with the distinctive keys; restore and clean the ledger after."""
    monkeypatch.setenv("YT_API_KEYS", ",".join(KEYS))
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("QUOTA_INTERACTIVE_RESERVE", "100")
    get_settings.cache_clear()
    client = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    get_settings.cache_clear()
    for key in client.scan_iter(match="ytc:quota:*"):
        if client.type(key) == "hash":  # the day markers are strings that name no key
            client.hdel(key, *FP)
    client.close()


def test_quota_command_is_registered_on_the_shared_app():
    """Given the CLI package, when the quota module is imported, then `quota` is a command of the shared app."""
    assert "quota" in [c.name for c in app.registered_commands]


def test_quota_shows_each_key_state_and_reset(cli, settings_env):
    """Given one key used, one spent and one disabled in Redis, when `ytcollect quota --json` runs, then each fingerprint shows its state and the PT/UTC reset, and no key is printed."""
    ledger = QuotaLedger(settings_env, KEYS, interactive_reserve=100)
    for _ in range(3):
        ledger.reserve(1)
    ledger.mark_spent(FP[1])
    ledger.disable(FP[2], "API_KEY_INVALID")

    result, out, err = cli("--json")
    assert result.exit_code == 0, err
    data = json.loads(out)
    assert data["mode"] == "redis"
    states = {k["fingerprint"]: (k["state"], k["reason"]) for k in data["keys"]}
    assert states == {
        FP[0]: ("ok", None),
        FP[1]: ("spent", "quotaExceeded"),
        FP[2]: ("disabled", "API_KEY_INVALID"),
    }
    assert sum(k["used"] for k in data["keys"]) == 3
    assert data["resets_at_utc"].endswith("+00:00")
    assert data["resets_at_pacific"].endswith(("-08:00", "-07:00"))
    assert "T00:00:00" in data["resets_at_pacific"]

    table, table_out, table_err = cli()
    assert table.exit_code == 0
    for fp in FP:
        assert fp in table_out
    assert "disabled" in table_out and "UTC" in table_out
    for text in (out, err, table_out, table_err):
        assert not any(k in text for k in KEYS)


def test_enable_by_fingerprint(cli, settings_env):
    """Given a disabled key, when `ytcollect quota --enable FP` runs, then the key is ok again; an unknown fingerprint exits 2."""
    QuotaLedger(settings_env, KEYS).disable(FP[0], "SERVICE_DISABLED")
    result, out, _ = cli("--json", "--enable", FP[0])
    assert result.exit_code == 0
    assert {k["fingerprint"]: k["state"] for k in json.loads(out)["keys"]}[FP[0]] == "ok"
    bad, _, err = cli("--enable", "deadbeef")
    assert bad.exit_code == 2 and "deadbeef" in err


def test_embedded_mode_says_there_is_nothing_persistent(cli, monkeypatch):
    """Given no REDIS_URL, when `ytcollect quota` runs, then it explains the in-process ledger and shows the configured keys empty."""
    monkeypatch.setenv("YT_API_KEYS", KEYS[0])
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        result, out, err = cli()
        _data_result, data_out, _ = cli("--json")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0
    assert "embedded mode keeps quota in-process" in " ".join(err.split())
    assert FP[0] in out and "10,000" in out
    assert json.loads(data_out)["mode"] == "embedded"
    assert not any(KEYS[0] in text for text in (out, err, data_out))


def test_unreachable_redis_is_a_clear_error_without_secrets(cli, monkeypatch):
    """Given a REDIS_URL with a password that answers nothing, when `ytcollect quota` runs, then it exits 1 naming host and port only."""
    monkeypatch.setenv("YT_API_KEYS", KEYS[0])
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret-pw@127.0.0.1:1/0")
    get_settings.cache_clear()
    try:
        result, out, err = cli()
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "127.0.0.1:1" in err
    assert "s3cret-pw" not in out + err and KEYS[0] not in out + err


def test_quota_shows_each_bucket_apart(cli, settings_env, monkeypatch):
    """Given searches on one key until its search bucket is spent, when `ytcollect quota` runs, then the search
    bucket shows spent with calls counted apart while the same key's default bucket is ok."""
    monkeypatch.setenv("QUOTA_SEARCH_CALLS_PER_KEY", "5")
    monkeypatch.setenv("QUOTA_SEARCH_INTERACTIVE_RESERVE", "2")
    get_settings.cache_clear()
    ledger = QuotaLedger(settings_env, KEYS[:1], search_calls_per_key=5)
    for _ in range(2):
        ledger.reserve(1, bucket="search")
    ledger.reserve(1)
    ledger.mark_spent(FP[1], bucket="search")

    result, out, err = cli("--json")
    assert result.exit_code == 0, err
    data = json.loads(out)
    keys = {k["fingerprint"]: k for k in data["keys"]}
    assert keys[FP[0]]["buckets"]["search"] == {
        "used": 2,
        "left": 3,
        "cap": 5,
        "state": "ok",
        "reason": None,
    }
    assert (keys[FP[0]]["state"], keys[FP[0]]["used"]) == ("ok", 1)
    assert keys[FP[1]]["buckets"]["search"]["state"] == "spent" and keys[FP[1]]["state"] == "ok"
    search = data["buckets"]["search"]
    assert (search["cap_per_key"], search["interactive_reserve"]) == (5, 2)
    assert (search["left_interactive"], search["left_system"]) == (3 + 5, 1 + 3)
    assert data["buckets"]["video_stats"]["left_interactive"] == 3 * 10_000

    table, table_out, _ = cli()
    assert table.exit_code == 0
    assert "search" in table_out and "video_stats" in table_out
    assert "cap per key 5 calls" in " ".join(table_out.split())


def test_run_summary_counts_searches_in_calls_and_names_the_bucket_it_waits_for(monkeypatch):
    """Given a running run's status with a search, a batchGetStats unit and 2 jobs waiting for the search bucket,
    when printed, then quota reads in each bucket's own measure and the wait names its bucket and resume time."""
    from rich.console import Console

    import cli.runs as runs

    console = Console(width=120, record=True)
    monkeypatch.setattr(runs, "console", console)
    runs.print_summary(
        {
            "run_id": "r-1",
            "run_status": "RUNNING",
            "total_inputs": 3,
            "total_jobs": 3,
            "status_counts": {"DONE": 1, "WAITING_QUOTA": 2},
            "quota_units": {
                "total": 5,
                "by_method": {"channels.list": 3, "search.list": 1, "videos.batchGetStats": 1},
            },
            "waiting_quota": {"search": {"waiting": 2, "resumes_at": "2026-12-02T08:00:00+00:00"}},
        }
    )
    text = " ".join(console.export_text().split())
    assert "quota: default 3 units, search 1 call, video_stats 1 unit" in text
    assert "waiting: 2 for the search bucket until 2026-12-02T08:00:00+00:00" in text
