"""Read-only views the organizer console needs beyond the API's services."""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from app.repositories import console as repo
from app.repositories import events as event_repo
from app.repositories import taxonomy as taxonomy_repo
from app.schemas.match import LinkCoverage
from app.services import matches, taxonomy
from app.services.matching import MatchingRuntime

STAGES = (("upstream", "上游"), ("midstream", "中游"), ("downstream", "下游"))


@dataclass
class ChainRow:
    """One chain on the dashboard."""

    code: str
    name: str
    sub_chains: int
    links: int
    smes: int
    open_demands: int
    weak_links: int


def chain_overview(session: Session, runtime: MatchingRuntime) -> list[ChainRow]:
    """Every chain of the current taxonomy with SMEs, open needs and weak links."""
    version = taxonomy.resolve_version(session)
    smes = repo.sme_counts_by_chain(session, version.id)
    demands = repo.open_demand_counts_by_chain(session, version.id, date.today())
    # One pass over the index instead of chain_coverage per chain; same rule: a link is weak
    # when no profile declares it and placement suggests it for none.
    matcher = runtime.matcher
    covered: set[str] = set()
    for key, profile in matcher.profiles.items():
        covered.update(profile.links)
        covered.update(matcher.profile_links.get(key, ()))
    rows = []
    for chain in taxonomy_repo.list_chains(session, version.id):
        rows.append(
            ChainRow(
                code=chain.code,
                name=chain.name,
                sub_chains=len(chain.sub_chains),
                links=len(chain.links),
                smes=smes.get(chain.code, 0),
                open_demands=demands.get(chain.code, 0),
                weak_links=sum(1 for link in chain.links if link.code not in covered),
            )
        )
    return rows


@dataclass
class SubChainMap:
    """A sub-chain's links split by stage (上游/中游/下游)."""

    code: str | None
    name: str
    stages: list[tuple[str, str, list[LinkCoverage]]] = field(default_factory=list)


@dataclass
class ChainMap:
    code: str
    name: str
    description: str
    sub_chains: list[SubChainMap]
    weak: list[LinkCoverage]
    smes: int
    open_demands: int
    sub_names: dict[str, str] = field(default_factory=dict)


def chain_map(session: Session, runtime: MatchingRuntime, code: str) -> ChainMap:
    """A chain's sub-chains with their links by stage and each link's coverage."""
    detail = taxonomy.get_chain(session, code, None)
    coverage = matches.chain_coverage(session, runtime, code)
    by_link = {row.link: row for row in coverage.links}
    groups = [(s.code, s.name, [x.code for x in s.links]) for s in detail.sub_chains]
    if detail.links:
        groups.append((None, "其他环节", [x.code for x in detail.links]))
    subs = []
    for sub_code, name, codes in groups:
        rows = [by_link[c] for c in codes if c in by_link]
        subs.append(
            SubChainMap(
                code=sub_code,
                name=name,
                stages=[
                    (stage, label, [r for r in rows if r.stage == stage]) for stage, label in STAGES
                ],
            )
        )
    version = taxonomy.resolve_version(session)
    return ChainMap(
        code=detail.code,
        name=detail.name,
        description=detail.description,
        sub_chains=subs,
        weak=[r for r in coverage.links if r.weak],
        smes=repo.sme_counts_by_chain(session, version.id).get(code, 0),
        open_demands=sum(r.open_demands for r in coverage.links),
        sub_names={s.code: s.name for s in detail.sub_chains},
    )


def leader_options(session: Session, limit: int = 200) -> list[tuple[int, str]]:
    """(id, name) of live chain leaders for a picker, in order of registration."""
    return event_repo.leader_choices(session, limit)


def sme_options(session: Session, chains: list[str], limit: int = 200) -> list[tuple[int, str]]:
    """(id, name) of live SME profiles for a picker: those of the event's chains first, the
    newest first in each (of all chains when the event names none)."""
    version = taxonomy.resolve_version(session)
    # A profile of two of the chains keeps its first place.
    seen = dict(event_repo.sme_choices(session, version.id, chains, limit))
    return list(seen.items())[:limit]


def demand_titles(session: Session, ids: list[int]) -> dict[int, str]:
    """Titles of needs by id."""
    return repo.demand_titles(session, ids)


def meeting_event_id(session: Session, meeting_id: int) -> int | None:
    """The event of a meeting, or None."""
    return repo.meeting_event_id(session, meeting_id)
