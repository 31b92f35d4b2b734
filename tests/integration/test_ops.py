"""Operations against the real services: `ytcollect doctor` as an operator runs it (a subprocess with a
clean environment), the Prometheus metrics (the collector, and a real `dramatiq` worker's endpoint), and
the structured logs. A distinctive fake key must never show up in any output.

The shared `test` database is dropped and recreated by the pipeline tests, so these use their own
`ytc_ops_test`, created and migrated here with `ytcollect db upgrade`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_lib
from psycopg import sql

from pipeline.youtube.quota import key_fingerprint
from tests.conftest import AMQP_URL, PG_URL, REDIS_URL, named
from tests.factories import make_settings

pytestmark = pytest.mark.services

BIN = Path(sys.executable).parent
OPS_DB = named("ytc_ops_test")
EMPTY_DB = named("ytc_ops_test_empty")
FAKE_KEY = "AIzaFakeOpsKey-DISTINCTIVE-doctor-000001"
FAKE_FP = key_fingerprint(FAKE_KEY)
LEDGER_NAMESPACE = "ytc_ops_test"  # the collector test's own ledger keys, removed after it


def _db_url(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _admin() -> psycopg.Connection:
    return psycopg.connect(_db_url("postgres"), autocommit=True)


def _recreate_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def clean_env(**values: str) -> dict[str, str]:
    """An environment with nothing of the caller's settings: PATH, HOME, a wide terminal, and ``values``."""
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "COLUMNS": "200",
    }
    env.update(values)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ops_db() -> Iterator[str]:
    """The module's own database, migrated the way an operator does it."""
    _recreate_database(OPS_DB)
    url = _db_url(OPS_DB)
    done = subprocess.run(
        [BIN / "ytcollect", "db", "upgrade"],
        env=clean_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    yield url
    _drop_database(OPS_DB)


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    from emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(seed=5, channels=50), host="127.0.0.1", port=0) as emulator:
        yield emulator.base_url


@pytest.fixture
def services_env(ops_db: str, emulator_url: str) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=ops_db,
        REDIS_URL=REDIS_URL,
        BROKER_URL=AMQP_URL,
        YT_API_KEYS=FAKE_KEY,
        YOUTUBE_API_URL=emulator_url,
    )


def doctor(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd: an empty directory, so no .env file is read and nothing is left behind.
    return subprocess.run(
        [BIN / "ytcollect", "doctor", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def doctor_json(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, Any], str]:
    done = doctor(env, cwd, "--json")
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


# --- doctor -------------------------------------------------------------------------------------------


def test_doctor_passes_against_the_real_services(services_env, tmp_path):
    """Given PostgreSQL (migrated), Redis, RabbitMQ and the emulator on 127.0.0.1, when `ytcollect doctor` runs, then every service check is ok and it exits 0."""
    code, report, output = doctor_json(services_env, tmp_path)
    assert code == 0, output
    assert report["ok"] is True
    checks = by_name(report)
    for name in (
        "database (PostgreSQL)",
        "migrations",
        "Redis",
        "RabbitMQ",
        "YouTube API",
        "YouTube API keys",
        f"key {FAKE_FP}",
    ):
        assert checks[name]["status"] == "ok", checks[name]
    assert not [c for c in report["checks"] if c["status"] == "fail"]
    assert {
        f"queue {q}" for q in ("runs", "normalize", "resolve", "metadata", "finalize", "scheduled")
    } <= set(checks)
    assert list(tmp_path.iterdir()) == []  # the doctor creates nothing


def test_doctor_fails_on_a_wrong_rabbitmq_port_and_says_how_to_fix_it(services_env, tmp_path):
    """Given BROKER_URL pointing at a port nobody listens on, when `ytcollect doctor` runs, then it fails the RabbitMQ check, says how to fix it and exits 1."""
    env = {**services_env, "BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"}
    code, report, _ = doctor_json(env, tmp_path)
    assert code == 1
    assert report["ok"] is False
    rabbit = by_name(report)["RabbitMQ"]
    assert rabbit["status"] == "fail"
    assert "start RabbitMQ" in rabbit["fix"] and "BROKER_URL" in rabbit["fix"]
    assert "guest:***@" in rabbit["detail"]  # the password is masked
    assert by_name(report)["database (PostgreSQL)"]["status"] == "ok"  # one failure does not hide the rest

    table = doctor(env, tmp_path)
    assert table.returncode == 1
    assert "RabbitMQ" in table.stdout and "fail" in table.stdout and "BROKER_URL" in table.stdout


def test_doctor_fails_on_an_unmigrated_database(services_env, tmp_path):
    """Given an empty database, when `ytcollect doctor` runs, then the migrations check fails and names `ytcollect db upgrade`."""
    _recreate_database(EMPTY_DB)
    try:
        code, report, _ = doctor_json({**services_env, "DATABASE_URL": _db_url(EMPTY_DB)}, tmp_path)
    finally:
        _drop_database(EMPTY_DB)
    assert code == 1
    migrations = by_name(report)["migrations"]
    assert migrations["status"] == "fail"
    assert "ytcollect db upgrade" in migrations["fix"]


def test_doctor_never_prints_a_key(services_env, tmp_path):
    """Given a distinctive key in YT_API_KEYS (with Redis up, then down), when `ytcollect doctor` prints its table and its JSON, then only the key's fingerprint appears."""
    outputs = []
    for env in (services_env, {**services_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}):
        for args in ((), ("--json",)):
            done = doctor(env, tmp_path, *args)
            outputs.append(done.stdout + done.stderr)
    everything = "\n".join(outputs)
    assert FAKE_FP in everything
    assert FAKE_KEY not in everything
    assert FAKE_KEY[4:20] not in everything  # not even a piece of it


def test_doctor_in_the_embedded_mode_checks_the_stand_ins(tmp_path):
    """Given nothing configured, when `ytcollect doctor` runs, then it says it is embedded, checks SQLite and the in-process stand-ins, and exits 0."""
    code, report, output = doctor_json(clean_env(), tmp_path)
    assert code == 0, output
    checks = by_name(report)
    assert "embedded" in checks["mode"]["detail"]
    for name in ("database (SQLite)", "Redis (stand-in)", "broker", "YouTube API (emulator)"):
        assert checks[name]["status"] == "ok", checks[name]
    assert not (tmp_path / ".ytcollect").exists()


# --- metrics ------------------------------------------------------------------------------------------


@pytest.fixture
def seeded_sessions(ops_db: str) -> Iterator[Any]:
    """Sessions on the ops database holding one running run with 2 DONE jobs and 1 FAILED."""
    import sqlalchemy as sa

    from models.job import Job
    from models.run import Run
    from pipeline import db, store

    engine = db.make_engine(ops_db.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)
    sessions = db.session_factory(engine)
    run_id = str(uuid.uuid4())
    with db.session_scope(sessions) as session:
        session.add(Run(id=run_id, analysis_id="a", owner_id="o", status="RUNNING"))
        session.flush()
        for n, status in enumerate(["DONE", "DONE", "FAILED"]):
            session.add(
                Job(
                    run_id=run_id,
                    kind="handle",
                    value=f"@ops{n}",
                    dedupe_key=store.dedupe_key("handle", f"@ops{n}"),
                    first_line_no=n + 1,
                    status=status,
                )
            )
    yield sessions
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM runs WHERE id = :id"), {"id": run_id})
    engine.dispose()


@pytest.fixture
def ledger() -> Iterator[Any]:
    """A ledger on the real Redis under a namespace of its own, holding the fake key and a second one."""
    from pipeline.youtube.quota import QuotaLedger

    client = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    ledger = QuotaLedger(client, [FAKE_KEY, FAKE_KEY + "-two"], namespace=LEDGER_NAMESPACE)
    yield ledger
    for key in client.scan_iter(match=f"{LEDGER_NAMESPACE}:quota:*"):
        client.delete(key)
    client.close()


def exposition(collector: Any) -> str:
    from prometheus_client import generate_latest

    from actors.metrics import build_registry

    return generate_latest(build_registry(collector)).decode()


def test_collector_exposes_quota_by_fingerprint_and_statuses(ledger, seeded_sessions):
    """Given 7 units reserved and a second key disabled in Redis, and a run with jobs in the database, when the collector is scraped, then the gauges show them by fingerprint and by status, and no key."""
    from actors.metrics import YtcollectCollector

    second = key_fingerprint(FAKE_KEY + "-two")
    ledger.disable(second, "API_KEY_INVALID")  # first, so all 7 units go to the fake key
    for _ in range(7):
        ledger.reserve(1)
    text = exposition(YtcollectCollector(ledger=ledger, sessions=seeded_sessions))

    assert f'ytcollect_quota_units_used{{fingerprint="{FAKE_FP}"}} 7.0' in text
    assert f'ytcollect_quota_units_left{{fingerprint="{FAKE_FP}"}} 9993.0' in text
    assert f'ytcollect_quota_key_state{{fingerprint="{second}",state="disabled"}} 1.0' in text
    assert f'ytcollect_quota_key_state{{fingerprint="{second}",state="ok"}} 0.0' in text
    assert 'ytcollect_runs{status="RUNNING"} ' in text and 'ytcollect_runs{status="FINISHED"} ' in text
    assert 'ytcollect_jobs{status="DONE"} 2.0' in text  # the ops database holds only this test's rows
    assert 'ytcollect_jobs{status="FAILED"} 1.0' in text
    assert 'ytcollect_jobs{status="WAITING_QUOTA"} 0.0' in text
    assert 'ytcollect_collector_up{source="quota"} 1.0' in text
    assert 'ytcollect_collector_up{source="database"} 1.0' in text
    assert FAKE_KEY not in text and FAKE_KEY[4:20] not in text


def test_collector_exposes_each_bucket_apart(ledger):
    """Given 3 searches and a spent search bucket on one key, when the collector is scraped, then the bucket
    gauges show the search calls and the spent state apart from the key's default bucket, which stays ok."""
    from actors.metrics import YtcollectCollector

    ledger.disable(key_fingerprint(FAKE_KEY + "-two"), "API_KEY_INVALID")
    for _ in range(3):
        ledger.reserve(1, bucket="search")
    ledger.reserve(2, bucket="video_stats")
    ledger.mark_spent(FAKE_FP, bucket="search")
    text = exposition(YtcollectCollector(ledger=ledger, sessions=None))

    assert f'ytcollect_quota_bucket_used{{bucket="search",fingerprint="{FAKE_FP}"}} 3.0' in text
    assert f'ytcollect_quota_bucket_left{{bucket="search",fingerprint="{FAKE_FP}"}} 0.0' in text
    assert (
        f'ytcollect_quota_bucket_state{{bucket="search",fingerprint="{FAKE_FP}",state="spent"}} 1.0' in text
    )
    assert f'ytcollect_quota_bucket_state{{bucket="default",fingerprint="{FAKE_FP}",state="ok"}} 1.0' in text
    assert f'ytcollect_quota_bucket_used{{bucket="video_stats",fingerprint="{FAKE_FP}"}} 2.0' in text
    assert 'ytcollect_quota_bucket_cap{bucket="search"} 100.0' in text
    assert f'ytcollect_quota_units_used{{fingerprint="{FAKE_FP}"}} 0.0' in text
    assert FAKE_KEY not in text


def test_collector_still_answers_when_redis_is_down(seeded_sessions):
    """Given a ledger on a Redis port nobody listens on, when the collector is scraped, then the quota source reports down and the statuses still come."""
    from actors.metrics import YtcollectCollector
    from pipeline.youtube.quota import QuotaLedger

    dead = redis_lib.Redis(
        host="127.0.0.1", port=free_port(), socket_connect_timeout=1, decode_responses=True
    )
    text = exposition(YtcollectCollector(ledger=QuotaLedger(dead, [FAKE_KEY]), sessions=seeded_sessions))
    assert 'ytcollect_collector_up{source="quota"} 0.0' in text
    assert 'ytcollect_jobs{status="DONE"} 2.0' in text


def _listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


PROBE_QUEUE = "ytc_ops_probe"
# A module the worker loads beside the actors: one actor on a queue nobody else uses, so the test can
# send it a message without touching the pipeline's shared queues.
PROBE_MODULE = f"""
import dramatiq

import actors  # noqa: F401  (the project's broker, with its middleware)


@dramatiq.actor(queue_name="{PROBE_QUEUE}", max_retries=0)
def ops_probe() -> None:
    pass
"""


def _send_probe() -> None:
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    # Declaring the queue as the worker does (a priority queue), or RabbitMQ refuses the publish.
    sender = RabbitmqBroker(
        url=AMQP_URL, confirm_delivery=True, max_priority=make_settings().broker_max_priority or None
    )
    try:
        dramatiq.actor(lambda: None, broker=sender, actor_name="ops_probe", queue_name=PROBE_QUEUE).send()
    finally:
        sender.close()


def _delete_probe_queues() -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = connection.channel()
        for name in (PROBE_QUEUE, f"{PROBE_QUEUE}.DQ", f"{PROBE_QUEUE}.XQ"):
            channel.queue_delete(name)
    finally:
        connection.close()


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            return answer.read().decode()
    except OSError:
        return None


def _wait_for(predicate: Any, worker: subprocess.Popen[bytes], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f} s (worker exit code {worker.poll()})")


def test_a_dramatiq_worker_serves_its_metrics_and_ours_on_127_0_0_1(ops_db, tmp_path):
    """Given a real `dramatiq` worker on RabbitMQ with Redis and the ops database, when it processes a message and its endpoint is scraped, then it listens on 127.0.0.1 only and shows Dramatiq's counters and the quota gauges by fingerprint, never the key."""
    port = free_port()
    (tmp_path / "ytc_ops_probe_actor.py").write_text(PROBE_MODULE)
    env = clean_env(
        DATABASE_URL=ops_db,
        REDIS_URL=REDIS_URL,
        BROKER_URL=AMQP_URL,
        YT_API_KEYS=FAKE_KEY,
        METRICS_PORT=str(port),
        TMPDIR=str(tmp_path),
        PYTHONPATH=str(tmp_path),
    )
    worker = subprocess.Popen(
        [
            BIN / "dramatiq",
            "actors",
            "ytc_ops_probe_actor",
            "--queues",
            PROBE_QUEUE,
            "--processes",
            "1",
            "--threads",
            "1",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        text = _wait_for(lambda: _scrape(port), worker, "no metrics endpoint")
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0
        assert f'ytcollect_quota_units_left{{fingerprint="{FAKE_FP}"}}' in text
        assert 'ytcollect_collector_up{source="database"} 1.0' in text

        _send_probe()
        processed = f'dramatiq_messages_total{{actor_name="ops_probe",queue_name="{PROBE_QUEUE}"}} 1.0'
        text = _wait_for(
            lambda: (t := _scrape(port)) and processed in t and t,
            worker,
            "Dramatiq's counter for the probe message never showed",
        )
        assert FAKE_KEY not in text
        # Dramatiq's multiprocess files live in this master's own directory, not the shared default.
        assert any((tmp_path / f"ytcollect-prometheus-{port}").iterdir())
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            output, _ = worker.communicate()
        _delete_probe_queues()
    assert FAKE_KEY.encode() not in output


def test_no_metrics_middleware_without_rabbitmq():
    """Given settings without BROKER_URL (the embedded mode), when the worker middleware is chosen, then there is no metrics middleware, and METRICS_PORT=0 turns it off with RabbitMQ."""
    from actors.middleware import WorkerMetrics, worker_metrics
    from pipeline.config import Settings

    assert worker_metrics(Settings(_env_file=None)) == []  # type: ignore[call-arg]
    assert worker_metrics(Settings(_env_file=None, broker_url=AMQP_URL, metrics_port=0)) == []  # type: ignore[call-arg]
    [middleware] = worker_metrics(Settings(_env_file=None, broker_url=AMQP_URL))  # type: ignore[call-arg]
    assert isinstance(middleware, WorkerMetrics)
    assert middleware.forks == []  # nothing to serve until a dramatiq worker process boots


# --- logs ---------------------------------------------------------------------------------------------


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Root logging formatted as JSON into a buffer; the previous handlers and level are restored after."""
    from pipeline.logs import configure_logging

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    for handler in saved_handlers:
        root.removeHandler(handler)
    buffer = io.StringIO()
    configure_logging("INFO", json=True, stream=buffer)
    yield buffer
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def test_json_logs_carry_the_run_and_job_ids_and_no_key(json_logs):
    """Given JSON logging and a log context, when a module logs a line holding a key, then the line is JSON with run_id and job_ids and the key is redacted."""
    from pipeline.logs import clear_message_context, set_message_context

    set_message_context(run_id="run-42", job_ids=[7, 8], message_id=None, actor=None)
    logging.getLogger("pipeline.stages").warning("calling ?key=%s failed", FAKE_KEY)
    clear_message_context()
    logging.getLogger("pipeline.stages").info("outside")

    inside, outside = (json.loads(line) for line in json_logs.getvalue().splitlines())
    assert inside["run_id"] == "run-42" and inside["job_ids"] == [7, 8]
    assert inside["level"] == "WARNING" and inside["logger"] == "pipeline.stages"
    assert FAKE_KEY not in json_logs.getvalue()
    assert "run_id" not in outside


def test_log_context_middleware_tags_every_line_of_a_message(json_logs):
    """Given a worker with the LogContext middleware, when an actor logs while processing a message, then its lines carry that message's run_id and job_ids, and nothing leaks to the next line."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from actors.middleware import LogContext

    broker = StubBroker(middleware=[LogContext()])
    broker.emit_after("process_boot")

    @dramatiq.actor(broker=broker, queue_name="ytc_ops_logs")
    def stage(run_id: str, job_ids: list[int]) -> None:
        logging.getLogger("actors.stage").info("working")

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        stage.send(run_id="run-7", job_ids=[1, 2, 3])
        broker.join("ytc_ops_logs", timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    logging.getLogger("after").info("later")

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    working = next(line for line in lines if line["msg"] == "working")
    assert working["run_id"] == "run-7" and working["job_ids"] == [1, 2, 3] and working["actor"] == "stage"
    later = next(line for line in lines if line["msg"] == "later")
    assert "run_id" not in later


def test_text_logs_show_the_ids_after_the_message():
    """Given the text formatter and a log context, when a line is logged, then it ends with the run and job ids."""
    from pipeline.logs import ContextFilter, TextFormatter, clear_message_context, set_message_context

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(TextFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("ytc_ops_text_test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        set_message_context(run_id="run-9", job_ids=[4, 5], message_id=None, actor=None)
        logger.warning("resolved")
        clear_message_context()
        logger.warning("plain")
    finally:
        logger.removeHandler(handler)
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("resolved  [run=run-9 jobs=4,5]")
    assert second.endswith("plain")
