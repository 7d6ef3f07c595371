"""Queries on accounts, tokens, login failures and interests."""

from datetime import datetime

from sqlalchemy import LargeBinary, and_, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from models import AuthToken, Interest, LoginFailure, Meeting, User

# The source (LoginFailure.ip) of a sign-up attempt: "signup:<address>". These rows bound
# sign-ups per address and never count as failed logins.
SIGNUP_SOURCE_PREFIX = "signup:"


def by_username(session: Session, username: str) -> User | None:
    """The oldest account whose lower-cased username equals `username` lower-cased (ASCII)."""
    return session.scalar(
        select(User).where(func.lower(User.username) == username.lower()).order_by(User.id)
    )


def _odd_username(session: Session):
    """Usernames stored before the ASCII rule: not plain ASCII, or with surrounding blanks."""
    if session.get_bind().dialect.name == "postgresql":
        wide = func.octet_length(User.username) != func.char_length(User.username)
    else:
        # SQLite: a BLOB's length counts bytes, a TEXT's characters.
        wide = func.length(cast(User.username, LargeBinary)) != func.length(User.username)
    return or_(wide, User.username != func.trim(User.username))


def username_candidates(
    session: Session,
    key: str,
    skeleton: str | None = None,
    steps: tuple[tuple[str, str], ...] = (),
) -> list[User]:
    """Accounts that may be named `key` (or look like `skeleton`); the caller decides in Python.

    Lower-cased ASCII names are matched here; names stored before the ASCII rule (few or none)
    always come along, so that their NFKC-casefolded form can be compared by the caller.
    """
    lowered = func.lower(User.username)
    conditions = [lowered == key, _odd_username(session)]
    if skeleton is not None:
        folded = lowered
        for old, new in steps:
            folded = func.replace(folded, old, new)
        conditions.append(folded == skeleton)
    return list(session.scalars(select(User).where(or_(*conditions)).order_by(User.id)).all())


def token(session: Session, token_id: int) -> AuthToken | None:
    """One token by id."""
    return session.get(AuthToken, token_id)


def record_token_use(session: Session, token_id: int, at: datetime) -> None:
    """Set a token's last use without loading it."""
    session.execute(
        update(AuthToken).where(AuthToken.id == token_id).values(last_used_at=at),
        execution_options={"synchronize_session": False},
    )


def interest_by_id(session: Session, interest_id: int) -> Interest | None:
    """One interest by id."""
    return session.get(Interest, interest_id)


def interest_sides(
    session: Session, demand_ids: set[int], sme_ids: set[int]
) -> list[tuple[int, int, str]]:
    """(need, SME, side) of every interest between these needs and SMEs."""
    return [
        tuple(r)
        for r in session.execute(
            select(Interest.demand_id, Interest.sme_id, Interest.side).where(
                Interest.demand_id.in_(demand_ids), Interest.sme_id.in_(sme_ids)
            )
        )
    ]


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


def count_failures(
    session: Session, since: datetime, username: str | None, source: str | None
) -> int:
    """Failures since `since` of a username key, from a source (address, device), or both
    (None: any).

    `LoginFailure.ip` holds the source a failure is counted against: a client address,
    `device:<id>` for a known device, or `signup:<address>` for a sign-up attempt.
    """
    query = select(func.count(LoginFailure.id)).where(*_bucket(since, username, source))
    return session.scalar(query) or 0


def nth_failure_at(
    session: Session, since: datetime, n: int, username: str | None, source: str | None
) -> datetime | None:
    """When the n-th oldest (from 0) failure of that bucket since `since` happened."""
    return session.scalar(
        select(LoginFailure.at)
        .where(*_bucket(since, username, source))
        .order_by(LoginFailure.at, LoginFailure.id)
        .offset(max(0, n))
        .limit(1)
    )


def _bucket(since: datetime, username: str | None, source: str | None) -> list:
    conditions = [LoginFailure.at >= since]
    if username is not None:
        conditions.append(LoginFailure.username == username)
    if source is not None:
        conditions.append(LoginFailure.ip == source)
    else:
        # A username's failures from anywhere: sign-up attempts at that name are no logins.
        conditions.append(~LoginFailure.ip.startswith(SIGNUP_SOURCE_PREFIX, autoescape=True))
    return conditions


def clear_failures(session: Session, username: str) -> None:
    """Forget the failed logins of a username key (its password was just reset)."""
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == username),
        execution_options={"synchronize_session": False},
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
    # Both sides about the same need: interest in one need and a shortlist on another is not.
    mine = select(Interest.demand_id, other).where(own == party_id, Interest.side == side)
    theirs = select(Interest.demand_id, other).where(own == party_id, Interest.side != side)
    mutual = {row[1] for row in session.execute(mine.intersect(theirs))}
    met = session.scalars(select(met_other).where(met_own == party_id, _placed_meeting())).all()
    return mutual | set(met)


def _placed_meeting():
    return and_(
        Meeting.status != "cancelled", or_(Meeting.slot.is_not(None), Meeting.held.is_(True))
    )
