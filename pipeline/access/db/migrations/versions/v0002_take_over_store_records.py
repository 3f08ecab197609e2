"""Take over the bearer tokens and per-case grants earlier versions kept as JSON objects in the object store.

``system/tokens/<id>.json`` (agency, label, created, revoked, SHA-256 of the secret) become rows of ``tokens`` with
no roles and no expiry (they could only fetch, and still can; ``dossier token revoke`` ends them). Each
``system/grants/<case-key>.json`` becomes a ``grants`` row per granted agency and a ``grant_denials`` row per revoked
one. The objects are left in place (nothing is deleted) and are no longer read. A record that cannot be read stops
the migration, naming the object: nothing is half taken over.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-05
"""

import json
import re
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TOKENS, _GRANTS = "system/tokens/", "system/grants/"
_ID = re.compile(r"[0-9a-f]{12}")

tokens = sa.table("tokens", sa.column("id"), sa.column("agency"), sa.column("label"), sa.column("secret_sha256"),
                  sa.column("user_id"), sa.column("source"), sa.column("created_at"), sa.column("expires_at"),
                  sa.column("revoked_at"))
grants = sa.table("grants", sa.column("case_no"), sa.column("agency"), sa.column("request_id"),
                  sa.column("volumes"), sa.column("source"), sa.column("granted_by"), sa.column("granted_at"),
                  sa.column("expires_at"), sa.column("revoked_at"))
denials = sa.table("grant_denials", sa.column("case_no"), sa.column("agency"), sa.column("created_by"),
                   sa.column("created_at"))


def _when(value, key: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise RuntimeError(f"{key}: {value!r} is not a time") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).replace(tzinfo=None)


def _records(store, prefix: str):
    for info in store.list_keys(prefix):
        name = info.key[len(prefix):]
        if not name.endswith(".json") or "/" in name:
            continue
        try:
            data = json.loads(store.get_bytes(info.key, limit=1 << 20))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise RuntimeError(f"cannot take over {info.key}: {exc}") from exc
        yield info.key, name.removesuffix(".json"), data


def _take_over_tokens(bind, store) -> None:
    for key, token_id, data in _records(store, _TOKENS):
        if not _ID.fullmatch(token_id) or data.get("id") != token_id or not data.get("secret_sha256"):
            raise RuntimeError(f"cannot take over {key}: not a token record")
        bind.execute(tokens.insert().values(
            id=token_id, agency=str(data["agency"])[:100], label=str(data.get("label", ""))[:200],
            secret_sha256=str(data["secret_sha256"]), user_id=None, source="migrated",
            created_at=_when(data.get("created"), key) or datetime.now(UTC).replace(tzinfo=None),
            expires_at=None, revoked_at=_when(data.get("revoked"), key)))


def _take_over_grants(bind, store) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    for key, _, data in _records(store, _GRANTS):
        case_no = data.get("case_no")
        if not isinstance(case_no, str) or not case_no:
            raise RuntimeError(f"cannot take over {key}: no case number")
        when = _when(data.get("updated"), key) or now
        for agency in sorted(set(data.get("granted", ())) - set(data.get("revoked", ()))):
            bind.execute(grants.insert().values(
                case_no=case_no, agency=agency, request_id=None, volumes="", source="migrated",
                granted_by="taken over from the object store", granted_at=when, expires_at=None, revoked_at=None))
        for agency in sorted(set(data.get("revoked", ()))):
            bind.execute(denials.insert().values(case_no=case_no, agency=agency,
                                                 created_by="taken over from the object store", created_at=when))


def upgrade() -> None:
    store = context.config.attributes.get("store")
    if store is None:  # a new installation without an object store to look at: nothing to take over
        return
    bind = op.get_bind()
    _take_over_tokens(bind, store)
    _take_over_grants(bind, store)


def downgrade() -> None:
    op.execute(tokens.delete().where(tokens.c.source == "migrated"))
    op.execute(grants.delete().where(grants.c.source == "migrated"))
