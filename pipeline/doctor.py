"""The rules of ``ytcollect doctor``: is every configured service there, migrated and usable, and what to fix.

It checks PostgreSQL (or SQLite) and its migrations, Redis, RabbitMQ and the workers' queues, the
YouTube API URL and the keys, and prints one row per check: ok, warn or fail, with the fix. It
exits 1 when anything failed. Keys are never sent to the API here (that would spend quota) and never
printed: they are named by fingerprint, and the ledger in Redis says how each one stands today.
With nothing configured it checks the embedded mode's SQLite and in-process stand-ins instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from redis import Redis

from pipeline import db, resources
from pipeline.config import REAL_YOUTUBE_API_URL, Settings
from pipeline.messages import QUEUES
from pipeline.youtube.quota import key_fingerprint
from pipeline.youtube.redact import redact, register_secret

OK, WARN, FAIL = "ok", "warn", "fail"
TIMEOUT = 3.0  # seconds per service: a doctor that hangs on a dead host is no help
WORKER_QUEUES = sorted({*QUEUES.values(), "scheduled"})
_GOOGLE_KEY_SHAPE = re.compile(r"^AIza[0-9A-Za-z_\-]{35}$")
# Any channel id will do: without a key the API refuses before it looks, and charges nobody.
_PROBE_PATH = "/youtube/v3/channels?part=id&id=UC_x5XG1OV2P6uZZ5FSM9Ttw"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


# --- text that is safe to print ----------------------------------------------------------------------

_passwords: list[str] = []


def safe_url(url: str | None) -> str:
    """``url`` with its password shown as ``***`` (and any key redacted)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.rsplit("@", 1)
            userinfo = netloc[0].split(":", 1)[0]
            parts = parts._replace(netloc=f"{userinfo}:***@{netloc[1]}")
        return redact(urlunsplit(parts))
    except ValueError:
        return "(unparsable URL)"


def _remember_passwords(settings: Settings) -> None:
    for url in (settings.broker_url, settings.redis_url, settings.database_url):
        try:
            password = urlsplit(url or "").password
        except ValueError:
            continue
        if password:
            _passwords.append(password)
            register_secret(password)  # long ones also leave every log line


def explain(exc: BaseException) -> str:
    """One printable line about ``exc``: its type and first line, no password, no key."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    for password in _passwords:
        text = text.replace(password, "***")
    return redact(text)[:300]


# --- the embedded mode ------------------------------------------------------------------------------


def check_embedded(settings: Settings) -> list[Check]:
    checks = [
        Check(
            "mode",
            OK,
            "embedded: no BROKER_URL, REDIS_URL, DATABASE_URL or YT_API_KEYS set, so "
            "`ytcollect run` uses an in-process broker and worker, a Redis stand-in, SQLite and the "
            "bundled YouTube API emulator",
            "set those four to use RabbitMQ, Redis, PostgreSQL and the real API (see .env.example)",
        )
    ]
    checks += check_embedded_sqlite(settings)
    checks.append(check_redis_stand_in())
    checks.append(Check("broker", OK, "in-process StubBroker with an in-process worker (no RabbitMQ)"))
    checks.append(check_bundled_emulator())
    checks.append(
        Check("YouTube API keys", OK, "none needed: the bundled emulator accepts the embedded mode's own key")
    )
    checks.append(Check("metrics", OK, "the embedded mode opens no metrics port"))
    return checks


def check_embedded_sqlite(settings: Settings) -> list[Check]:

    url = settings.sqlalchemy_url
    path = Path(url.split("///", 1)[-1])
    if not path.exists():
        return [
            Check(
                "database (SQLite)",
                OK,
                f"{path} does not exist yet: the first `ytcollect run` creates and migrates it",
            )
        ]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        current, head = db.current_revision(engine), db.head_revision()
    except Exception as exc:
        return [
            Check(
                "database (SQLite)",
                FAIL,
                f"{path}: {explain(exc)}",
                f"move {path} aside (it is only the demo's data) and run again",
            )
        ]
    finally:
        engine.dispose()
    state = (
        "at the newest revision"
        if current == head
        else (f"at {current}, newest {head}: the next `ytcollect run` migrates it")
    )
    return [Check("database (SQLite)", OK, f"{path}, {state}")]


def check_redis_stand_in() -> Check:
    try:
        import fakeredis

        stand_in = fakeredis.FakeRedis(decode_responses=True)
        answer = stand_in.eval("return redis.call('PING')", 0)
    except Exception as exc:
        return Check(
            "Redis (stand-in)",
            FAIL,
            f"the in-process Redis cannot run Lua: {explain(exc)}",
            "pip install 'fakeredis[lua]' (the completion counter and quota ledger are Lua scripts)",
        )
    return Check("Redis (stand-in)", OK, f"in-process fakeredis with Lua ({answer})")


def check_bundled_emulator() -> Check:
    try:
        from emulator import EmulatorConfig, EmulatorServer

        with EmulatorServer(EmulatorConfig(seed=7, channels=20), host="127.0.0.1", port=0) as emulator:
            where = emulator.base_url
    except Exception as exc:
        return Check(
            "YouTube API (emulator)",
            FAIL,
            f"the bundled emulator did not start: {explain(exc)}",
            "reinstall ytcollect (pip install -e .); the emulator ships with the package",
        )
    return Check("YouTube API (emulator)", OK, f"the bundled emulator starts and answers (tried on {where})")


# --- the real services ------------------------------------------------------------------------------


def check_configuration(settings: Settings) -> list[Check]:
    """Which services are set, and the combinations that cannot work across processes."""
    set_ = [
        name
        for name, value in (
            ("BROKER_URL", settings.broker_url),
            ("REDIS_URL", settings.redis_url),
            ("DATABASE_URL", settings.database_url),
            ("YT_API_KEYS", settings.yt_api_keys),
        )
        if value
    ]
    checks = [Check("mode", OK, f"services: {', '.join(set_)} set")]
    if not settings.broker_url:
        checks.append(
            Check(
                "configuration",
                WARN,
                "BROKER_URL is not set: `ytcollect run` works with an "
                "in-process worker, but `dramatiq` workers and the scheduler need RabbitMQ",
                "set BROKER_URL=amqp://user:password@host:5672/%2F",
            )
        )
    if not settings.redis_url:
        checks.append(
            Check(
                "configuration",
                FAIL if settings.broker_url else WARN,
                "REDIS_URL is not set: each process keeps its own in-memory Redis stand-in, so run counters "
                "and the quota ledger are not shared between workers",
                "set REDIS_URL=redis://host:6379/0",
            )
        )
    if not settings.database_url:
        checks.append(
            Check(
                "configuration",
                FAIL if settings.broker_url else WARN,
                f"DATABASE_URL is not set: results go to a local SQLite file ({settings.embedded_dir}) that "
                "workers on other hosts or containers cannot see",
                "set DATABASE_URL=postgresql://user:password@host:5432/ytcollect",
            )
        )
    return checks


def check_database(settings: Settings) -> list[Check]:
    """Reachable, and migrated to the newest revision this package ships."""

    url = settings.sqlalchemy_url
    sqlite = url.startswith("sqlite")
    name = "database (SQLite)" if sqlite else "database (PostgreSQL)"
    where = safe_url(settings.database_url) or url
    if sqlite and not Path(url.split("///", 1)[-1]).exists():  # connecting would create it
        return [
            Check(
                name,
                FAIL,
                f"{url.split('///', 1)[-1]} does not exist",
                "run `ytcollect db upgrade` to create it, or correct DATABASE_URL",
            )
        ]
    connect_args = {} if sqlite else {"connect_timeout": int(TIMEOUT)}
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args)
    try:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                version = ".".join(str(v) for v in (conn.dialect.server_version_info or ())[:2])
        except Exception as exc:
            reason = explain(exc)
            if "does not exist" in reason:
                fix = f"create the database (createdb {urlsplit(url).path.lstrip('/')}), then `ytcollect db upgrade`"
            elif "password" in reason or "authentication" in reason:
                fix = "check the user and password in DATABASE_URL"
            else:
                fix = "start PostgreSQL (`docker compose up -d postgres`, or your service manager) or correct DATABASE_URL"
            return [
                Check(name, FAIL, f"cannot connect to {where}: {reason}", fix),
                Check(
                    "migrations", FAIL, "not checked: the database is unreachable", "fix the database first"
                ),
            ]
        checks = [Check(name, OK, f"{where} answers" + (f" (server {version})" if version else ""))]
        if sqlite:
            checks.append(
                Check(
                    "database (SQLite)",
                    WARN,
                    "SQLite is a local file: workers on other hosts cannot share it",
                    "use PostgreSQL beyond one machine",
                )
            )
        checks.append(check_migrations(engine))
        return checks
    finally:
        engine.dispose()


def check_migrations(engine: sa.Engine) -> Check:
    try:
        current, head = db.current_revision(engine), db.head_revision()
    except Exception as exc:
        return Check(
            "migrations", FAIL, f"cannot read the revision: {explain(exc)}", "run `ytcollect db upgrade`"
        )
    if current == head:
        return Check("migrations", OK, f"at the newest revision ({head})")
    if current is None:
        return Check(
            "migrations",
            FAIL,
            f"the database has no tables yet (newest revision {head})",
            "run `ytcollect db upgrade` (compose: the `migrate` service does it)",
        )
    return Check(
        "migrations",
        FAIL,
        f"at revision {current}, this package ships {head}",
        "run `ytcollect db upgrade`; if the database is newer than the package, upgrade ytcollect",
    )


def check_redis(settings: Settings) -> tuple[list[Check], Redis | None]:
    """PING, version and eviction policy; returns the client for the ledger check when it answered."""
    assert settings.redis_url
    where = safe_url(settings.redis_url)
    client = resources.open_redis(settings, timeout=TIMEOUT)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    except Exception as exc:
        client.close()
        reason = explain(exc)
        fix = (
            "check the password in REDIS_URL"
            if "auth" in reason.lower() or "password" in reason.lower()
            else "start Redis (`docker compose up -d redis`, or `redis-server`) or correct REDIS_URL"
        )
        return [Check("Redis", FAIL, f"cannot PING {where}: {reason}", fix)], None
    checks = [Check("Redis", OK, f"{where} answers PING (Redis {version})")]
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "")
        limit = int(client.config_get("maxmemory").get("maxmemory", "0") or 0)
    except Exception:  # managed Redis often forbids CONFIG: nothing to say then
        policy, limit = "", 0
    if limit and policy and policy != "noeviction":
        checks.append(
            Check(
                "Redis eviction",
                WARN,
                f"maxmemory-policy is {policy}: under memory pressure Redis "
                "may evict run state (reconcile rebuilds it) and today's quota counters (the "
                "ledger could then overspend)",
                "set maxmemory-policy noeviction",
            )
        )
    return checks, client


def check_rabbitmq(settings: Settings) -> list[Check]:
    """Connect, then look at each worker queue: declared, consumed, and its dead letters."""
    import pika
    import pika.exceptions

    assert settings.broker_url
    where = safe_url(settings.broker_url)
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # its connection errors are ours to report
    try:
        params = pika.URLParameters(settings.broker_url)
        params.connection_attempts = 1
        params.retry_delay = 0
        params.socket_timeout = TIMEOUT
        params.stack_timeout = TIMEOUT * 2
        params.blocked_connection_timeout = TIMEOUT
        connection = pika.BlockingConnection(params)
    except Exception as exc:
        auth = isinstance(
            exc, pika.exceptions.ProbableAuthenticationError | pika.exceptions.ProbableAccessDeniedError
        )
        fix = (
            "check the user, password and vhost in BROKER_URL"
            if auth
            else "start RabbitMQ (`docker compose up -d rabbitmq`, or `rabbitmq-server -detached`) or correct "
            "the host and port in BROKER_URL"
        )
        return [Check("RabbitMQ", FAIL, f"cannot connect to {where}: {explain(exc)}", fix)]
    checks = [Check("RabbitMQ", OK, f"{where} accepts the connection")]
    try:
        channel = connection.channel()
        for queue in WORKER_QUEUES:
            try:
                declared = channel.queue_declare(queue, passive=True).method
            except pika.exceptions.ChannelClosedByBroker:  # 404: not declared yet
                channel = connection.channel()
                checks.append(
                    Check(
                        f"queue {queue}",
                        WARN,
                        "not declared yet: no worker or sender has used it",
                        f"start its workers: dramatiq actors --queues {queue}",
                    )
                )
                continue
            dead = 0
            try:
                dead = channel.queue_declare(f"{queue}.XQ", passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()
            detail = f"{declared.consumer_count} consumer(s), {declared.message_count} waiting"
            if dead:
                detail += f", {dead} dead-lettered in {queue}.XQ"
            if declared.consumer_count == 0:
                checks.append(
                    Check(
                        f"queue {queue}",
                        WARN,
                        detail + ": no worker is consuming it",
                        f"start its workers: dramatiq actors --queues {queue}",
                    )
                )
            elif dead:
                checks.append(
                    Check(
                        f"queue {queue}",
                        WARN,
                        detail,
                        f"read the worker logs for why: a stage message out of retries (its jobs were "
                        "counted failed) or one refused before it ran (malformed, another queue's actor, "
                        f"envelope options not accepted); {queue}.XQ keeps the messages",
                    )
                )
            else:
                checks.append(Check(f"queue {queue}", OK, detail))
    except Exception as exc:
        checks.append(Check("RabbitMQ queues", WARN, f"could not inspect the queues: {explain(exc)}"))
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return checks


def check_youtube_url(settings: Settings) -> Check:
    """The API answers a keyless request (which the API refuses without charging anyone)."""
    base = (settings.youtube_api_url or REAL_YOUTUBE_API_URL).rstrip("/")
    shown = safe_url(base)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # as the client: no proxy
    try:
        with opener.open(base + _PROBE_PATH, timeout=TIMEOUT * 2) as answer:
            status, body = answer.status, answer.read(4096)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(4096)
    except Exception as exc:
        return Check(
            "YouTube API",
            FAIL,
            f"{shown} does not answer: {explain(exc)}",
            "check YOUTUBE_API_URL (the host root, unset for the real API), DNS and the firewall",
        )
    try:
        looks_right = "error" in json.loads(body) or status == 200
    except ValueError:
        looks_right = False
    if status >= 500:
        return Check(
            "YouTube API", WARN, f"{shown} answers HTTP {status}", "retry later; the client retries 5xx"
        )
    if not looks_right:
        return Check(
            "YouTube API",
            WARN,
            f"{shown} answers HTTP {status}, but not like the YouTube Data API",
            "YOUTUBE_API_URL is the host root (https://youtube.googleapis.com or the emulator's address)",
        )
    which = "the real API" if base == REAL_YOUTUBE_API_URL else "configured URL"
    return Check(
        "YouTube API", OK, f"{shown} ({which}) answers (HTTP {status} to a keyless probe; no quota spent)"
    )


def check_keys(settings: Settings, redis_client: Redis | None) -> list[Check]:
    """How many keys, whether they look like keys, and how each stands in the ledger today."""
    keys = [k.strip() for k in settings.yt_api_keys if k.strip()]
    if not keys:
        return [
            Check(
                "YouTube API keys",
                FAIL,
                "YT_API_KEYS is empty",
                "set YT_API_KEYS=key1,key2 (Google Cloud console: APIs & Services > Credentials, with "
                "the YouTube Data API v3 enabled)",
            )
        ]
    fingerprints = [key_fingerprint(k) for k in keys]
    distinct = list(dict.fromkeys(fingerprints))
    checks: list[Check] = []
    if len(distinct) < len(keys):
        checks.append(
            Check(
                "YouTube API keys",
                WARN,
                f"{len(keys) - len(distinct)} key(s) listed twice",
                "list each key once in YT_API_KEYS",
            )
        )
    if (settings.youtube_api_url or REAL_YOUTUBE_API_URL).rstrip("/") == REAL_YOUTUBE_API_URL:
        odd = [key_fingerprint(k) for k in dict.fromkeys(keys) if not _GOOGLE_KEY_SHAPE.match(k)]
        if odd:
            checks.append(
                Check(
                    "YouTube API keys",
                    WARN,
                    f"{', '.join(odd)} do(es) not look like a Google API key (AIza + 35 characters)",
                    "copy the key again from the Google Cloud console",
                )
            )
    if redis_client is None:
        checks.insert(
            0,
            Check(
                "YouTube API keys",
                WARN if settings.redis_url else OK,
                f"{len(distinct)} configured ({', '.join(distinct)}); today's state unknown "
                "without the shared ledger in Redis",
                "fix Redis first" if settings.redis_url else "",
            ),
        )
        return checks
    ledger = resources.quota_ledger(settings, redis_client, keys)
    try:
        statuses = ledger.status()
    except Exception as exc:
        return [
            Check(
                "YouTube API keys",
                WARN,
                f"{len(distinct)} configured; cannot read the ledger: {explain(exc)}",
                "fix Redis first",
            ),
            *checks,
        ]
    usable = [s for s in statuses if s.state == "ok"]
    left = sum(s.left for s in usable)
    resets = f"{ledger.resets_at():%Y-%m-%d %H:%M} UTC"
    summary = Check(
        "YouTube API keys",
        OK if usable else FAIL,
        f"{len(statuses)} configured, {len(usable)} usable, {left:,} units left today (resets {resets}); "
        "not tried against the API, which would spend quota",
        ""
        if usable
        else "wait for the reset, add keys to YT_API_KEYS, or re-enable a fixed key "
        "(`ytcollect quota --enable FINGERPRINT`)",
    )
    checks.insert(0, summary)
    for s in statuses:
        if s.state == "ok":
            checks.append(Check(f"key {s.fingerprint}", OK, f"{s.used:,} used, {s.left:,} left today"))
        elif s.state == "spent":
            checks.append(
                Check(
                    f"key {s.fingerprint}",
                    WARN,
                    f"spent ({s.reason}) until {resets}",
                    "nothing to do: it is usable again after the Pacific midnight",
                )
            )
        else:
            checks.append(
                Check(
                    f"key {s.fingerprint}",
                    WARN,
                    f"disabled: {redact(s.reason or '?')}",
                    f"fix the key in Google Cloud, then `ytcollect quota --enable {s.fingerprint}`",
                )
            )
    return checks


def check_metrics(settings: Settings) -> Check:
    if not settings.broker_url:
        return Check("metrics", OK, "no BROKER_URL: no worker serves metrics")
    if settings.metrics_port == 0:
        return Check("metrics", OK, "off (METRICS_PORT=0)")
    exposed = (
        ""
        if settings.metrics_host in ("127.0.0.1", "::1", "localhost")
        else ("; reachable beyond this host: keep it inside a container network or behind a firewall")
    )
    return Check(
        "metrics",
        OK,
        f"each dramatiq worker group serves http://{settings.metrics_host}:"
        f"{settings.metrics_port}/metrics{exposed}",
    )


def run_checks(settings: Settings) -> list[Check]:
    """Every check for these settings, in the order an operator would fix them."""
    _remember_passwords(settings)
    if settings.embedded:
        return check_embedded(settings)
    checks = check_configuration(settings)
    checks += check_database(settings)
    redis_client = None
    if settings.redis_url:
        redis_checks, redis_client = check_redis(settings)
        checks += redis_checks
    if settings.broker_url:
        checks += check_rabbitmq(settings)
    checks.append(check_youtube_url(settings))
    try:
        checks += check_keys(settings, redis_client)
    finally:
        if redis_client is not None:
            redis_client.close()
    checks.append(check_metrics(settings))
    return checks
