"""``ytcollect tokens create | revoke | list``: the HTTP API's bearer tokens (stored hashed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from cli.app import app, console, err_console
from pipeline import db, resources, tokens
from pipeline.config import get_settings
from pipeline.errors import InvalidRequest

tokens_app = typer.Typer(help="bearer tokens of the HTTP API", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _database() -> Iterator[sessionmaker[Session]]:
    """The configured database (the embedded SQLite file migrates itself); disposed on the way out."""
    engine = None
    try:
        engine = resources.open_database(get_settings(), pool_size=1)
        yield db.session_factory(engine)
    except sa.exc.OperationalError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        raise _fail(f"cannot reach the database: {lines[0] if lines else type(exc).__name__}", 1) from None
    finally:
        if engine is not None:
            engine.dispose()


@tokens_app.command("create")
def create(
    owner_id: str = typer.Argument(..., help="the owner the token acts for (runs are scoped to it)"),
    admin: bool = typer.Option(
        False, "--admin/--no-admin", help="may also read the quota and every owner's statistics"
    ),
) -> None:
    """Create a token and print it once: only its hash is kept, so it cannot be shown again."""
    with _database() as sessions:
        try:
            token, info = tokens.create_token(sessions, owner_id=owner_id, admin=admin)
        except InvalidRequest as exc:
            raise _fail(str(exc)) from None
    err_console.print(
        f"token {info.fingerprint} for owner {escape(owner_id)}{' (admin)' if admin else ''}: "
        "shown once, keep it now (revoke it with `ytcollect tokens revoke FINGERPRINT`)"
    )
    print(token)


@tokens_app.command("revoke")
def revoke(
    fingerprint: str = typer.Argument(..., help="the token's fingerprint (from `tokens list`), or the token"),
) -> None:
    """Revoke a token at once: requests carrying it are refused (401) from now on."""
    with _database() as sessions:
        if not tokens.revoke_token(sessions, fingerprint=fingerprint):
            raise _fail("no active token has that fingerprint (see `ytcollect tokens list`)", 1)
    console.print("token revoked")


@tokens_app.command("list")
def list_(
    owner_id: str = typer.Option(None, "--owner-id", help="only this owner's tokens"),
    as_json: bool = typer.Option(False, "--json/--no-json", help="print JSON instead of a table"),
) -> None:
    """Every token by fingerprint, with its owner, scope and state (never the token itself)."""
    with _database() as sessions:
        rows = tokens.list_tokens(sessions, owner_id=owner_id)
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "fingerprint": t.fingerprint,
                        "owner_id": t.owner_id,
                        "admin": t.admin,
                        "created_at": t.created_at.isoformat(),
                        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                    }
                    for t in rows
                ]
            )
        )
        return
    table = Table(title=f"API tokens ({len(rows)})")
    for col in ("fingerprint", "owner", "scope", "created", "state"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            t.fingerprint,
            escape(t.owner_id),
            "admin" if t.admin else "owner",
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active",
        )
    console.print(table)
