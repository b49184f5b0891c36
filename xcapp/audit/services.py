"""Writing and verifying the hash-chained audit log.

Each row's hash is SHA-256 over the row's canonical JSON followed by the previous
row's hash. The chain tip lives in ``audit_head``; every writer locks that row
(SELECT ... FOR UPDATE on PostgreSQL; on SQLite every writing transaction
already holds the database write lock, see xcapp.db_setup), so two concurrent
writers can never both extend the same tip.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from ..core.timeutil import utcnow
from ..extensions import db
from .models import AuditHead, AuditLog

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_payload(row: AuditLog) -> dict:
    return {
        "id": row.id,
        "at": row.at.isoformat(timespec="microseconds"),
        "user_id": row.user_id,
        "username": row.username,
        "unit_code": row.unit_code,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "details": row.details,
    }


def compute_hash(row: AuditLog, prev_hash: str) -> str:
    return hashlib.sha256((canonical_json(row_payload(row)) + prev_hash).encode("utf-8")).hexdigest()


def _actor(user):
    if user is None and has_request_context():
        try:
            if current_user.is_authenticated:
                user = current_user
        except Exception:  # no login manager bound (CLI)
            user = None
    if user is None:
        return None, "system", ""
    return user.id, user.username, user.unit.code if user.unit else ""


def record(action: str, obj=None, *, object_type: str = "", object_id: Any = "",
           details: dict | None = None, user=None) -> AuditLog:
    """Append one row to the chain inside the caller's transaction.

    The caller commits; if the transaction rolls back, the row and the head
    update roll back with it, so the chain stays whole.
    """
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id or getattr(obj, "id", "")
    details = dict(details or {})
    if has_request_context():
        details.setdefault("ip", request.remote_addr or "")
    user_id, username, unit_code = _actor(user)

    head = _locked_head()

    row = AuditLog(
        id=head.last_id + 1,
        at=utcnow(),
        user_id=user_id,
        username=username,
        unit_code=unit_code,
        action=action,
        object_type=object_type,
        object_id=str(object_id if object_id is not None else ""),
        details=canonical_json(details),
        prev_hash=head.last_hash,
    )
    row.hash = compute_hash(row, head.last_hash)
    head.last_id = row.id
    head.last_hash = row.hash
    db.session.add(row)
    db.session.flush()
    return row


def record_many(entries: list[dict], user=None) -> int:
    """Append many rows at once (imports): one head lock, one bulk insert.

    Each entry has ``action`` and optionally ``object_type``, ``object_id``, ``details``.
    """
    if not entries:
        return 0
    user_id, username, unit_code = _actor(user)
    head = _locked_head()
    prev, next_id, now = head.last_hash, head.last_id + 1, utcnow()
    rows = []
    for entry in entries:
        row = AuditLog(id=next_id, at=now, user_id=user_id, username=username, unit_code=unit_code,
                       action=entry["action"], object_type=entry.get("object_type", ""),
                       object_id=str(entry.get("object_id", "")),
                       details=canonical_json(entry.get("details") or {}), prev_hash=prev)
        row.hash = compute_hash(row, prev)
        rows.append({c: getattr(row, c) for c in ("id", "at", "user_id", "username", "unit_code", "action",
                                                   "object_type", "object_id", "details", "prev_hash", "hash")})
        prev, next_id = row.hash, next_id + 1
    from ..db_setup import bulk_insert

    bulk_insert(db.session, AuditLog.__table__, rows)
    head.last_id, head.last_hash = next_id - 1, prev
    db.session.flush()
    return len(rows)


def _locked_head() -> AuditHead:
    stmt = (select(AuditHead).where(AuditHead.id == 1).with_for_update()
            .execution_options(populate_existing=True))
    head = db.session.execute(stmt).scalar_one_or_none()
    if head is None:
        # First row ever: create the head without racing another first writer.
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        db.session.execute(insert(AuditHead).values(id=1, last_id=0, last_hash=GENESIS)
                           .on_conflict_do_nothing())
        head = db.session.execute(stmt).scalar_one()
    return head


@dataclass
class VerifyResult:
    count: int
    ok: bool
    bad_id: int | None = None
    message: str = ""


def verify_chain(batch: int = 2000) -> VerifyResult:
    """Recompute the whole chain. Names the first row that was edited, inserted or deleted."""
    prev_hash = GENESIS
    expected_id = 1
    count = 0
    stmt = select(AuditLog).order_by(AuditLog.id).execution_options(yield_per=batch)
    for row in db.session.scalars(stmt):
        if row.id != expected_id:
            return VerifyResult(count, False, expected_id,
                                f"row {expected_id} is missing (next row is {row.id})")
        if row.prev_hash != prev_hash:
            return VerifyResult(count, False, row.id,
                                f"row {row.id}: prev_hash does not match the hash of row {row.id - 1}")
        if compute_hash(row, prev_hash) != row.hash:
            return VerifyResult(count, False, row.id, f"row {row.id}: content does not match its hash")
        prev_hash = row.hash
        expected_id += 1
        count += 1
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_id != count or head.last_hash != prev_hash):
        return VerifyResult(count, False, count + 1 if head.last_id > count else head.last_id,
                            f"the chain ends at row {count} but its head records row {head.last_id}: "
                            "rows at the end were deleted or the head was edited")
    if head is None and count:
        return VerifyResult(count, False, None, "the chain head is missing")
    return VerifyResult(count, True)
