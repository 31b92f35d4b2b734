"""The emulator's admin API, its in-process API, its lifecycle and its CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator import EmulatorConfig, EmulatorServer, fingerprint
from emulator.testing import RawClient

KEY = "AIzaAdminSuiteKey"
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ENTRY_KEYS = {
    "id",
    "handle",
    "username",
    "custom_name",
    "title",
    "niche",
    "keywords",
    "video_ids",
    "removed_video_ids",
    "playlist_ids",
    "uploads_playlist_id",
    "shorts_playlist_id",
    "long_playlist_id",
    "live_playlist_id",
    "terminated",
    "hidden",
    "no_videos",
    "country",
}


@pytest.fixture(scope="module")
def emu():
    with EmulatorServer(EmulatorConfig(seed=3, channels=300, keys=[KEY], start_time=START)) as running:
        yield running


@pytest.fixture
def admin(emu):
    emu.reset()
    return RawClient(emu.base_url)


def test_catalogue_lists_channels_with_their_flags(emu, admin):
    """Given 300 channels, when GET /_emulator/catalogue?limit=40&offset=10 is asked, then it lists those 40 entries with every documented field and the total."""
    body = admin.admin("GET", "catalogue", limit=40, offset=10).json
    assert body["total"] == 300 and len(body["channels"]) == 40
    assert all(set(entry) >= ENTRY_KEYS for entry in body["channels"])
    assert body["channels"] == emu.catalogue.sample(40, offset=10)


def test_catalogue_includes_terminated_channels_flagged(emu, admin):
    """Given the whole catalogue, when it is listed, then terminated channels are there and flagged, and every other flag occurs too."""
    channels = admin.admin("GET", "catalogue", limit=300).json["channels"]
    for flag in ("terminated", "hidden", "no_videos"):
        assert any(entry[flag] for entry in channels), flag
    assert any(entry["country"] is None for entry in channels)
    assert any(entry["username"] for entry in channels)
    assert any(entry["custom_name"] != entry["handle"] for entry in channels)


def test_usage_over_http_matches_the_in_process_usage(emu, admin):
    """Given a channels.list and a search, when GET /_emulator/usage is asked, then it equals emu.usage() and names the key by fingerprint."""
    api = RawClient(emu.base_url, key=KEY)
    channel_id = emu.catalogue.sample(1)[0]["id"]
    api.get("/youtube/v3/channels", part="id", id=channel_id)
    api.get("/youtube/v3/search", part="id", q="a")
    usage = admin.admin("GET", "usage").json
    assert usage == emu.usage()
    assert usage["units_total"] == 1 and usage["requests_total"] == 2  # the search is in its own bucket
    assert set(usage["by_key"]) == {fingerprint(KEY)}
    per_key = usage["by_key"][fingerprint(KEY)]
    assert per_key["by_method"] == {
        "channels.list": {"units": 1, "requests": 1},
        "search.list": {"units": 1, "requests": 1},
    }
    assert usage["by_method"]["search.list"] == {"units": 1, "requests": 1}
    assert {name: b["units_total"] for name, b in usage["buckets"].items()} == {
        "default": 1,
        "search": 1,
        "video_stats": 0,
    }


def test_clock_advances_and_sets_over_http(emu, admin):
    """Given a frozen clock, when POST /_emulator/clock advances it and then sets it, then each answer is the new now."""
    advanced = admin.admin("POST", "clock", {"advance_seconds": 3600}).json
    assert datetime.fromisoformat(advanced["now"]) == START + timedelta(hours=1)
    moved = admin.admin("POST", "clock", {"set": "2027-01-01T10:00:00Z"}).json
    assert datetime.fromisoformat(moved["now"]) == datetime(2027, 1, 1, 10, tzinfo=UTC)
    assert moved["pacific_day"] == "2027-01-01" and emu.now() == datetime(2027, 1, 1, 10, tzinfo=UTC)
    assert admin.admin("POST", "clock", {"bogus": 1}).status == 400


def test_in_process_clock_matches_the_admin_clock(emu, admin):
    """Given a frozen clock, when emu.advance_clock moves it 2 days, then emu.now() and GET /_emulator/clock agree."""
    emu.advance_clock(timedelta(days=2))
    assert emu.now() == START + timedelta(days=2)
    assert datetime.fromisoformat(admin.admin("GET", "clock").json["now"]) == emu.now()


def test_reset_over_http_clears_usage_faults_and_clock(emu, admin):
    """Given usage, faults and a moved clock, when POST /_emulator/reset, then all three are back at their start."""
    RawClient(emu.base_url, key=KEY).get("/youtube/v3/channels", part="id", id="x")
    admin.admin("POST", "faults", {"faults": [{"kind": "backend_500", "count": 5}], "latency_ms": 5})
    admin.admin("POST", "clock", {"advance_seconds": 86400})
    assert admin.admin("POST", "reset").status == 200
    assert emu.usage()["units_total"] == 0 and emu.usage()["requests_total"] == 0
    faults = admin.admin("GET", "faults").json
    assert faults["faults"] == [] and faults["latency_ms"] == {"*": 0.0}
    assert emu.now() == START


def test_unknown_admin_paths_and_bad_json_are_refused(emu, admin):
    """Given an unknown admin endpoint or a non-JSON body, when sent, then the admin API answers 404 or 400."""
    assert admin.admin("GET", "nothing-here").status == 404
    assert admin.request("POST", "/_emulator/faults", body=b"{not json").status == 400
    assert admin.request("GET", "/elsewhere").status == 404


def test_same_seed_same_catalogue_other_seed_other_catalogue():
    """Given two catalogues with one seed and one with another, when sampled, then the first two list the same channels and the third does not."""
    from emulator import Catalogue

    assert Catalogue(21, 200).sample(50) == Catalogue(21, 200).sample(50)
    assert Catalogue(21, 200).sample(50) != Catalogue(22, 200).sample(50)


def test_stop_leaves_no_thread_or_socket_behind():
    """Given a started emulator, when stopped, then its thread is gone and its port refuses connections."""
    before = set(threading.enumerate())
    emu = EmulatorServer(EmulatorConfig(channels=20)).start()
    port = emu.port
    RawClient(emu.base_url, key="k").get(
        "/youtube/v3/channels", part="id", id="x"
    )  # leave a keep-alive behind
    emu.stop()
    emu.stop()  # idempotent
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_context_manager_stops_even_with_an_open_keep_alive_connection():
    """Given a client holding a keep-alive connection, when the with-block ends, then the server thread still ends."""
    import http.client

    before = set(threading.enumerate())
    with EmulatorServer(EmulatorConfig(channels=20)) as emu:
        conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
        conn.request("GET", "/_emulator/health")
        conn.getresponse().read()
    conn.close()
    assert set(threading.enumerate()) <= before


def test_port_zero_picks_a_free_port_and_two_servers_coexist():
    """Given two emulators, when both start on port 0, then each gets its own port and answers."""
    with (
        EmulatorServer(EmulatorConfig(channels=10)) as one,
        EmulatorServer(EmulatorConfig(channels=10)) as two,
    ):
        assert one.port != two.port
        assert RawClient(one.base_url).admin("GET", "health").status == 200
        assert RawClient(two.base_url).admin("GET", "health").status == 200


def test_a_hundred_thousand_channels_start_in_seconds():
    """Given channels=100,000, when the emulator starts, then it takes a few CPU seconds and finds its last channel."""
    # CPU time, not wall time: the bound must hold on a busy shared machine too (about 1 s when idle).
    started = time.process_time()
    with EmulatorServer(EmulatorConfig(channels=100_000)) as emu:
        assert time.process_time() - started < 5
        last = emu.catalogue.sample(1, offset=99_999)[0]
        answer = RawClient(emu.base_url, key="k").get(
            "/youtube/v3/channels", part="id", forHandle=last["handle"]
        )
        assert answer.status == 200
        assert [i["id"] for i in answer.json.get("items", [])] == ([] if last["terminated"] else [last["id"]])


def test_cli_serves_and_never_prints_a_key(tmp_path):
    """Given ``ytcollect emulator`` with keys, bucket sizes and hidden counts as "0", when it starts, then it serves so, prints fingerprints and samples, and no key."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "AIzaSecretCliKey0123456789"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cli import main; main()",
            "emulator",
            "--port",
            str(port),
            "--keys",
            f"{secret},AIzaSecondSecret",
            "--invalid-keys",
            "AIzaBadSecret",
            "--restricted-keys",
            "AIzaBlockedSecret",
            "--channels",
            "100",
            "--quota",
            "3",
            "--search-quota",
            "1",
            "--stats-quota",
            "7",
            "--same-project",
            "--hidden-subscribers",
            "zero",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    try:
        api = RawClient(f"http://127.0.0.1:{port}", key=secret)
        deadline = time.monotonic() + 20
        while True:
            try:
                if api.admin("GET", "health").status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the CLI emulator did not start"
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        statuses = [
            RawClient(base, key=k).get("/youtube/v3/channels", part="id", id="x").status
            for k in (secret, "AIzaSecondSecret", secret, secret)
        ]
        assert statuses == [200, 200, 200, 403]  # --same-project: one bucket of 3 units
        assert (
            RawClient(base, key="AIzaBadSecret").get("/youtube/v3/channels", part="id", id="x").status == 400
        )
        blocked = RawClient(base, key="AIzaBlockedSecret").get("/youtube/v3/channels", part="id", id="x")
        assert blocked.status == 403 and blocked.json["error"]["errors"][0]["reason"] == "forbidden"
        searches = [api.get("/youtube/v3/search", part="id", q="a").status for _ in range(2)]
        assert searches == [200, 403]  # --search-quota 1, whatever the default bucket says
        assert api.admin("GET", "usage").json["quota"]["limits"] == {
            "default": 3,
            "search": 1,
            "video_stats": 7,
        }
        from emulator import Catalogue

        hidden = Catalogue(7, 100).find(limit=1, hidden=True, terminated=False)[0]
        assert RawClient(base).admin("POST", "reset").status == 200  # a fresh default bucket
        stats = api.get("/youtube/v3/channels", part="statistics", id=hidden["id"]).json["items"][0]
        assert stats["statistics"]["subscriberCount"] == "0" and stats["statistics"]["hiddenSubscriberCount"]
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    text = output.decode()
    assert f"http://127.0.0.1:{port}" in text
    assert fingerprint(secret) in text and "sample inputs" in text
    assert "search 1 calls" in text and "video_stats 7 units" in text
    assert "AIza" not in text


def test_in_process_uploads_removals_and_feed_url(emu, admin):
    """Given the in-process API, when a channel uploads, a video is removed and the feed URL is fetched, then HTTP sees the same state."""
    entry = next(e for e in emu.catalogue.sample(100) if len(e["video_ids"]) > 2 and not e["terminated"])
    added = emu.add_uploads(entry["id"], count=2)
    assert emu.remove_videos([entry["video_ids"][0], "AAAAAAAAAAA"]) == {
        "removed": [entry["video_ids"][0]],
        "unknown": ["AAAAAAAAAAA"],
    }
    videos = admin.admin("GET", "videos", channel_id=entry["id"]).json
    ids = [v["id"] for v in videos["uploads"]]
    assert ids[:2] == added[::-1] and entry["video_ids"][0] not in ids
    assert entry["video_ids"][0] in videos["removed_video_ids"]
    path = emu.feed_url(entry["id"]).removeprefix(emu.base_url)
    assert admin.request("GET", path).status == 200
