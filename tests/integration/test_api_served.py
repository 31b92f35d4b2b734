"""``ytcollect serve`` as a real process: the embedded default with nothing configured, tokens and keys kept
out of its logs, and schemathesis over its ``/openapi.json`` (no 5xx, every answer as the schema says).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.factories import inputs_of_every_kind
from tests.integration.api_harness import bearer, follow_sse, serve_process, services_env, ytcollect
from tests.integration.pipeline_harness import KEYS

EMBEDDED_ENV_DROP = ("BROKER_URL", "REDIS_URL", "DATABASE_URL", "YT_API_KEYS", "YOUTUBE_API_URL")


def embedded_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in EMBEDDED_ENV_DROP} | {"PYTHONUNBUFFERED": "1"}


def test_serve_with_nothing_configured_runs_a_run_and_shows_the_dashboard_without_a_token(tmp_path):
    """Given no service configured, when `ytcollect serve` runs and a run is posted without a token, then it runs in-process to `finished` over SSE, the dashboard answers, and a bad token is still refused."""
    with (
        serve_process(
            embedded_env() | {"EMBEDDED_DIR": str(tmp_path / "state")}, tmp_path / "serve.log", cwd=tmp_path
        ) as url,
        httpx.Client(base_url=url) as c,
    ):
        accepted = c.post(
            "/v1/runs", json={"analysis_id": "demo", "channel_inputs": ["@nobody-here", "not a channel"]}
        )
        assert accepted.status_code == 202, accepted.text
        with c.stream("GET", accepted.json()["events_url"], timeout=60) as response:
            from tests.integration.api_harness import sse_events

            events = list(sse_events(response))
        home = c.get("/")
        refused = c.get("/v1/runs", headers=bearer("ytc_wrong-token-0123456789abcdef"))
        ready = c.get("/readyz").json()

    assert events[-1]["event"] == "finished"
    assert events[-1]["data"]["owner_id"] == "local"
    assert events[-1]["data"]["summary"]["counts_by_status"] == {"FAILED": 2}
    assert home.status_code == 200 and "Start a run" in home.text and 'name="inputs"' in home.text
    assert refused.status_code == 401
    assert ready["services"]["broker"]["detail"] == "in-process"
    assert (tmp_path / "state" / "ytcollect.db").exists()
    assert "bundled emulator" in (tmp_path / "serve.log").read_text()


@pytest.mark.services
def test_no_token_or_api_key_reaches_the_servers_log_or_the_database(
    tmp_path, pg_engine, pipeline_ctx, worker, emulator
):
    """Given `ytcollect serve` on the services at DEBUG, when tokens are made with the CLI and used (good, bad, revoked) for a whole run, then neither they nor any API key appear in the server's log, and the database holds only hashes."""
    env = services_env(emulator.base_url)
    created = ytcollect("tokens", "create", "alice", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("ytc_") and token not in created.stderr
    doomed = ytcollect("tokens", "create", "alice", env=env).stdout.strip()
    fingerprint = next(
        line.split()[1]
        for line in ytcollect("tokens", "list", env=env).stdout.splitlines()
        if "alice" in line
    )
    log = tmp_path / "serve.log"
    bad = "ytc_" + uuid.uuid4().hex + uuid.uuid4().hex

    with serve_process(env, log) as url, httpx.Client(base_url=url, timeout=30) as c:
        lines = list(inputs_of_every_kind(emulator.catalogue.sample(200)).values())
        accepted = c.post(
            "/v1/runs", json={"analysis_id": "a", "channel_inputs": lines}, headers=bearer(token)
        )
        assert accepted.status_code == 202, accepted.text
        events = follow_sse(c, accepted.json()["events_url"], token)
        assert c.get("/v1/runs", headers=bearer(bad)).status_code == 401
        assert c.get(f"/v1/runs?analysis_id={bad}", headers=bearer(token)).status_code == 200
        assert ytcollect("tokens", "revoke", fingerprint, env=env).returncode == 0
        for t in (token, doomed):
            c.get("/v1/runs", headers=bearer(t))
        c.post("/login", data={"token": bad})

    assert events[-1]["event"] == "finished"
    text = log.read_text()
    assert "GET /v1/runs" in text or "POST /v1/runs" in text, "the access log was captured"
    for secret in (token, doomed, *KEYS):
        assert secret not in text
    assert bad not in text  # not even where a caller put it in a query string: the log filter scrubs it
    with pg_engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(sa.text("SELECT * FROM api_tokens")) for v in row)
    assert token not in stored and doomed not in stored and "alice" in stored


@pytest.mark.services
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(
    tmp_path, pg_engine, pipeline_ctx, emulator
):
    """Given `ytcollect serve` on the services and an owner's token, when schemathesis fuzzes every operation of /openapi.json (bounded), then no answer is a 5xx and every answer matches its documented status, type and schema."""
    env = services_env(emulator.base_url, LOG_LEVEL="WARNING")
    token = ytcollect("tokens", "create", "fuzzer", env=env).stdout.strip()
    with serve_process(env, tmp_path / "serve.log") as url:
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{url}/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "20",
                "--max-time",
                "60",
                "--seed",
                "14",
                # One worker: CPython 3.11's ast.parse is not thread-safe ("AST constructor recursion
                # depth mismatch" inside hypothesis under two schemathesis threads).
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--generation-database",
                "none",
                # A live run's event stream never ends by itself; it is tested on its own above.
                "--exclude-path-regex",
                "/events$",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=150,
            cwd=tmp_path,
        )
    (tmp_path / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout.lower()
