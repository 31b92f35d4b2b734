"""``ytcollect serve``: the HTTP API and the dashboard on uvicorn, on the same Settings as the workers.

With nothing configured it runs the embedded default in this process (pipeline, worker, Redis
stand-in, SQLite and the emulator), and on a loopback address the dashboard needs no token: a
newcomer opens it and pastes inputs. With services configured every request needs a token.
"""

from __future__ import annotations

import ipaddress
import threading

import typer

from cli.app import app, err_console
from cli.runs import CliRuntime, describe_mode
from pipeline.config import get_settings
from pipeline.logs import configure_logging

LOCAL_OWNER = "local"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="port to listen on"),
    cors_origin: list[str] = typer.Option(
        None,
        "--cors-origin",
        help="an origin allowed to call the API from a browser (repeat); none by default",
    ),
) -> None:
    """Serve the HTTP API (/docs) and the dashboard (/)."""
    import uvicorn

    from api import create_app

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    local_owner = LOCAL_OWNER if settings.embedded and is_loopback(host) else None
    with CliRuntime(settings, finish_runs=False) as runtime:
        metrics, stop_metrics = _metrics_server(settings)
        application = create_app(
            runtime.ctx,
            send=runtime.send,
            local_owner=local_owner,
            cors_origins=[*settings.api_cors_origins, *(cors_origin or ())],
            max_body_bytes=settings.api_max_body_bytes,
            metrics=metrics,
        )
        err_console.print(f"[dim]{describe_mode(settings, runtime.ctx)}[/]")
        shown = f"[{host}]" if ":" in host else host
        err_console.print(f"dashboard and API on http://{shown}:{port}/ (OpenAPI at /docs)")
        if local_owner:
            err_console.print(
                f"[dim]embedded on loopback: requests without a token act as '{local_owner}'[/]"
            )
        try:
            # log_config=None: uvicorn's loggers propagate to ours, which redact keys and tokens.
            uvicorn.run(
                application, host=host, port=port, log_config=None, proxy_headers=False, server_header=False
            )
        finally:
            stop_metrics()


def _metrics_server(settings):  # type: ignore[no-untyped-def]
    """Prometheus text on METRICS_HOST:METRICS_PORT like the workers' (not in the embedded mode)."""
    if settings.embedded or not settings.metrics_port:
        return None, lambda: None
    from actors.metrics import build_registry, make_server, open_collector
    from api.metrics import RequestMetrics

    collector, close = open_collector(settings)
    registry = build_registry(collector)
    metrics = RequestMetrics(registry)
    try:
        server = make_server(settings.metrics_host, settings.metrics_port, registry)
    except OSError as exc:
        close()
        err_console.print(
            f"[yellow]metrics: cannot listen on {settings.metrics_host}:{settings.metrics_port} ({exc})[/]"
        )
        return metrics, lambda: None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        close()

    return metrics, stop
