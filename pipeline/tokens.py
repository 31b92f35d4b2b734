"""Bearer tokens of the HTTP API, one or more per owner: created, checked and revoked here.

A token is shown once, when it is created; the database keeps only its SHA-256 hash and a short
fingerprint (the hash's first 12 hex digits) by which operators list and revoke it. Tokens carry
256 random bits, so a fast hash is as good as a slow one: nobody can guess their way back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from models import ApiToken
from pipeline import db
from pipeline.errors import InvalidRequest
from pipeline.stages import storable_id

TOKEN_PREFIX = "ytc_"
FINGERPRINT_LENGTH = 12
# A bearer credential longer than this is not one of ours; refused before hashing anything.
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: an owner, and whether it may see every owner's totals and the quota."""

    owner_id: str
    admin: bool = False
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    fingerprint: str
    owner_id: str
    admin: bool
    created_at: datetime
    revoked_at: datetime | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.fingerprint, row.owner_id, row.admin, row.created_at, row.revoked_at)


def create_token(
    sessions: sessionmaker[Session], *, owner_id: str, admin: bool = False, now: datetime | None = None
) -> tuple[str, TokenInfo]:
    """A new token for ``owner_id``: returns the token (to show once) and what is stored of it."""
    if not storable_id(owner_id, 200):
        raise InvalidRequest("owner_id must be a string of 1 to 200 characters, without NUL")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = hash_token(token)
    row = ApiToken(
        owner_id=owner_id,
        token_hash=digest,
        fingerprint=digest[:FINGERPRINT_LENGTH],
        admin=admin,
        created_at=now or datetime.now(UTC),
    )
    with db.session_scope(sessions) as session:
        session.add(row)
        session.flush()
        info = _info(row)
    return token, info


def authenticate(sessions: sessionmaker[Session], token: str) -> Principal | None:
    """The owner a bearer token acts for; None for an unknown, revoked or malformed token."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    digest = hash_token(token)
    with db.session_scope(sessions) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    # The lookup is by hash, so timing says nothing about the token; compare anyway, in constant time.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Principal(owner_id=row.owner_id, admin=row.admin, fingerprint=row.fingerprint)


def revoke_token(sessions: sessionmaker[Session], *, fingerprint: str, now: datetime | None = None) -> bool:
    """Revoke the token with this fingerprint (or the full token); False when none is active."""
    key = fingerprint.strip()
    if key.startswith(TOKEN_PREFIX):
        key = hash_token(key)[:FINGERPRINT_LENGTH]
    with db.session_scope(sessions) as session:
        result: Any = session.execute(
            sa.update(ApiToken)
            .where(col(ApiToken.fingerprint) == key, col(ApiToken.revoked_at).is_(None))
            .values(revoked_at=now or datetime.now(UTC))
        )
        return bool(result.rowcount)


def list_tokens(sessions: sessionmaker[Session], *, owner_id: str | None = None) -> list[TokenInfo]:
    """Every token's fingerprint, owner, scope and state (never the token itself)."""
    query = select(ApiToken).order_by(col(ApiToken.created_at))
    if owner_id is not None:
        query = query.where(ApiToken.owner_id == owner_id)
    with db.session_scope(sessions) as session:
        return [_info(row) for row in session.exec(query)]
