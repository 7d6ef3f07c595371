"""Queries on accounts, tokens, login failures and interests."""

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from models import AuthToken, Interest, LoginFailure, Meeting, User


def by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def get(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def list_page(session: Session, limit: int, offset: int) -> tuple[list[User], int]:
    total = session.scalar(select(func.count(User.id))) or 0
    rows = session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)).all()
    return list(rows), total


def token_by_hash(session: Session, token_hash: str) -> tuple[AuthToken, User] | None:
    row = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row else None


def tokens_of(session: Session, user_id: int) -> list[AuthToken]:
    return list(
        session.scalars(
            select(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
            .order_by(AuthToken.id.desc())
        ).all()
    )


def recent_failures(session: Session, since: datetime, username: str, ip: str) -> tuple[int, int]:
    """Failed logins since `since` for this username and from this address."""
    by_user = session.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.at >= since, func.lower(LoginFailure.username) == username.lower()
        )
    )
    by_ip = session.scalar(
        select(func.count(LoginFailure.id)).where(LoginFailure.at >= since, LoginFailure.ip == ip)
    )
    return by_user or 0, by_ip or 0


def oldest_failure(session: Session, since: datetime, username: str) -> datetime | None:
    return session.scalar(
        select(func.min(LoginFailure.at)).where(
            LoginFailure.at >= since, func.lower(LoginFailure.username) == username.lower()
        )
    )


def interests(session: Session, leader_id: int | None = None, sme_id: int | None = None):
    query = select(Interest).order_by(Interest.id.desc())
    if leader_id is not None:
        query = query.where(Interest.leader_id == leader_id)
    if sme_id is not None:
        query = query.where(Interest.sme_id == sme_id)
    return list(session.scalars(query).all())


def interest(session: Session, side: str, demand_id: int, sme_id: int) -> Interest | None:
    return session.scalar(
        select(Interest).where(
            Interest.side == side, Interest.demand_id == demand_id, Interest.sme_id == sme_id
        )
    )


def revealed(session: Session, side: str, party_id: int) -> set[int]:
    """Counterparts whose contacts this party may see: interest both ways, or a placed meeting.

    `side` is the party's own side: "sme" gives leader ids, "leader" gives SME ids.
    """
    own, other = (Interest.sme_id, Interest.leader_id)
    met_own, met_other = (Meeting.sme_id, Meeting.leader_id)
    if side == "leader":
        own, other, met_own, met_other = other, own, met_other, met_own
    mine = select(other).where(own == party_id, Interest.side == side)
    theirs = select(other).where(own == party_id, Interest.side != side)
    mutual = set(session.scalars(mine.intersect(theirs)).all())
    met = session.scalars(select(met_other).where(met_own == party_id, _placed_meeting())).all()
    return mutual | set(met)


def _placed_meeting():
    return and_(
        Meeting.status != "cancelled", or_(Meeting.slot.is_not(None), Meeting.held.is_(True))
    )
