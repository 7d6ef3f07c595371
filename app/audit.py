"""The audit log: every flushed write of a domain record, with who made it and its values."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import History

from models import AuditEntry, utcnow

# Machinery and logs: writing these is not a decision of a person. Match feedback is derived
# from writes that are themselves recorded (interests, meeting requests, outcomes).
SKIPPED_TABLES = {
    "audit_log",
    "embeddings",
    "encode_claims",
    "index_changes",
    "login_failures",
    "match_feedback",
}
# Values that never go into the log.
REDACTED = {"password_hash", "token_hash"}
# Bookkeeping columns that alone do not make a change worth a record.
QUIET = {"updated_at", "version", "last_used_at", "search_text", "match_text_hash"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    # A related record: its code, name or id says which one.
    for attr in ("code", "name", "id"):
        if hasattr(value, attr):
            return getattr(value, attr)
    return str(value)


def _value(key: str, value: Any) -> Any:
    return "***" if key in REDACTED and value is not None else _plain(value)


def _columns(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {
        attr.key: _value(attr.key, getattr(obj, attr.key))
        for attr in state.mapper.column_attrs
        if attr.key not in ("search_text",)
    }


def _first(history: History, which: str) -> Any:
    values = getattr(history, which) or ()
    return values[0] if values else None


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.attrs:
        history = state.attrs[attr.key].load_history()
        if not history.has_changes():
            continue
        if getattr(attr, "uselist", False):
            old = list(history.unchanged or ()) + list(history.deleted or ())
            new = list(history.unchanged or ()) + list(history.added or ())
            before[attr.key], after[attr.key] = _plain(old), _plain(new)
        elif hasattr(attr, "columns"):
            before[attr.key] = _value(attr.key, _first(history, "deleted"))
            after[attr.key] = _value(attr.key, _first(history, "added"))
    return before, after


def _identity(obj: Any) -> str:
    # New objects have their keys by now, though not yet an identity in the session.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join(str(k) for k in key)


def _after_flush(session: Session, _context: Any) -> None:
    principal = session.info.get("principal")
    actor = principal.actor if principal is not None else session.info.get("actor", "system")
    user_id = principal.user_id if principal is not None else None
    request = session.info.get("request", "")
    now = utcnow()
    rows: list[dict[str, Any]] = []

    def add(obj: Any, action: str, before: dict | None, after: dict | None) -> None:
        rows.append(
            {
                "at": now,
                "user_id": user_id,
                "actor": actor,
                "action": action,
                "entity": obj.__tablename__,
                "entity_id": str(_identity(obj)),
                "before": before,
                "after": after,
                "request": request[:300],
            }
        )

    for obj in session.new:
        if getattr(obj, "__tablename__", None) not in SKIPPED_TABLES:
            add(obj, "create", None, _columns(obj))
    for obj in session.dirty:
        if getattr(obj, "__tablename__", None) in SKIPPED_TABLES or not session.is_modified(obj):
            continue
        before, after = _changes(obj)
        if not set(after) - QUIET:
            continue
        soft_delete = "deleted_at" in after and after["deleted_at"] and not before["deleted_at"]
        add(obj, "delete" if soft_delete else "update", before, after)
    for obj in session.deleted:
        if getattr(obj, "__tablename__", None) not in SKIPPED_TABLES:
            add(obj, "delete", _columns(obj), None)
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def install() -> None:
    """Record the writes of every session (API requests, CLI commands, tests)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
