"""Loading the demo data set (data/demo) through the same validation as the API."""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.repositories import demands as demand_repo
from app.repositories import enterprises as enterprise_repo
from app.repositories import leaders as leader_repo
from app.repositories import smes as sme_repo
from app.repositories import users as user_repo
from app.schemas.leader import LeaderCreate
from app.services import auth, demands, leaders, smes
from app.services.demands import PROGRAMME_ZONE
from app.services.matching import MatchingRuntime


@dataclass
class DemoStats:
    """How many records a demo load added."""

    leaders: int = 0
    demands: int = 0
    smes: int = 0
    accounts: int = 0


def _read(directory: Path, name: str) -> list[dict[str, Any]]:
    return json.loads((directory / name).read_text(encoding="utf-8"))


def demo_loaded(session: Session) -> bool:
    """True when the database already holds SME profiles."""
    return sme_repo.count(session) > 0


# The day data/demo was written: its dates are as of then.
DEMO_WRITTEN = date(2026, 12, 1)


def load_demo(
    session: Session,
    settings: Settings,
    directory: Path | None = None,
    index: MatchingRuntime | None = None,
) -> DemoStats:
    """Add the demo leaders, needs and SMEs that are not there yet (safe to run twice)."""
    directory = directory or settings.data_dir / "demo"
    stats = DemoStats()

    existing_leaders = leader_repo.by_name(session)
    for row in _read(directory, "leaders.json"):
        if row["name"] not in existing_leaders:
            leaders.create(session, LeaderCreate.model_validate(row))
            stats.leaders += 1
    by_name = leader_repo.by_name(session)

    titles = demand_repo.leader_titles(session)
    demand_rows = []
    # The demo shows a live market whenever it is loaded: its needs' dates move with the clock.
    shift = max(datetime.now(PROGRAMME_ZONE).date() - DEMO_WRITTEN, timedelta(0))
    for row in _read(directory, "demands.json"):
        row = dict(row)
        if row.get("valid_until"):
            row["valid_until"] = (date.fromisoformat(row["valid_until"]) + shift).isoformat()
        leader = by_name[row.pop("leader")]
        if (leader.id, row["title"]) not in titles:
            demand_rows.append({**row, "leader_id": leader.id})
    if demand_rows:
        stats.demands = len(demands.bulk_create(session, demand_rows, settings, index))

    sme_rows = _read(directory, "smes.json")
    known = enterprise_repo.by_uscc(session, [r.get("uscc") for r in sme_rows])
    taken = sme_repo.active_for_enterprises(session, [e.id for e in known.values()])
    fresh = [r for r in sme_rows if not (r.get("uscc") in known and known[r["uscc"]].id in taken)]
    if fresh:
        stats.smes = len(smes.bulk_create(session, fresh, settings, index))
    stats.accounts = _load_accounts(session, directory, leader_repo.by_name(session))
    return stats


def _load_accounts(session: Session, directory: Path, leaders_by_name: dict) -> int:
    """Demo sign-ins, one per role (their passwords are in the README; demo only)."""
    path = directory / "accounts.json"
    if not path.exists():
        return 0
    added = 0
    for row in json.loads(path.read_text(encoding="utf-8")):
        if user_repo.by_username(session, row["username"]) is not None:
            continue
        leader = leaders_by_name.get(row.get("leader", ""))
        sme_id = sme_repo.id_by_uscc(session, row["sme_uscc"]) if row.get("sme_uscc") else None
        auth.create_user(
            session,
            row["username"],
            row["password"],
            row["role"],
            display_name=row.get("display_name", ""),
            leader_id=leader.id if leader else None,
            sme_id=sme_id,
        )
        added += 1
    return added
