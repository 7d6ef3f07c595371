"""Loading the demo data set (data/demo) through the same validation as the API."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.repositories import demands as demand_repo
from app.repositories import enterprises as enterprise_repo
from app.repositories import leaders as leader_repo
from app.repositories import smes as sme_repo
from app.schemas.leader import LeaderCreate
from app.services import demands, leaders, smes
from app.services.matching import MatchingRuntime


@dataclass
class DemoStats:
    """How many records a demo load added."""

    leaders: int = 0
    demands: int = 0
    smes: int = 0


def _read(directory: Path, name: str) -> list[dict[str, Any]]:
    return json.loads((directory / name).read_text(encoding="utf-8"))


def demo_loaded(session: Session) -> bool:
    """True when the database already holds SME profiles."""
    return sme_repo.count(session) > 0


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
    for row in _read(directory, "demands.json"):
        row = dict(row)
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
    return stats
