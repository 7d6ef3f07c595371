"""Queries that concern the database itself rather than one table."""

from sqlalchemy import text
from sqlalchemy.orm import Session


def ping(session: Session) -> None:
    """Raise unless the database answers."""
    session.execute(text("SELECT 1"))
