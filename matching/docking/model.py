"""The data of a docking event: parties, candidate pairs, meetings, conflicts, schedules."""

from collections.abc import Sequence
from dataclasses import dataclass

LEADER = "leader"
SME = "sme"
MILP_TIME_LIMIT = 3.0  # seconds; past it the LP relaxation (integral here) takes over
IMPROVE_ROUNDS = 60  # sweeps of the idle-gap local search (each sweep tries every slot pair)
ANNEAL_STEPS_PER_MEETING = 300  # annealing steps per placed meeting, capped below
ANNEAL_MAX_STEPS = 200_000

_KIND_ORDER = {"outside_grid": 0, "unavailable": 1, "double_booked": 2, "table_clash": 3}


@dataclass(frozen=True)
class Party:
    """A chain leader or an SME taking part in the event."""

    id: str
    kind: str
    cap: int | None = None
    unavailable: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Candidate:
    """A pair that may meet, with its match quality and the participants' marks."""

    leader: str
    sme: str
    quality: float
    must: bool = False
    blocked: bool = False
    demand: str | None = None


@dataclass(frozen=True)
class MatchListResult:
    """The chosen pairs, with the greedy baseline's objective and SME coverage."""

    meetings: tuple[Candidate, ...]
    objective: float
    greedy_objective: float
    smes_with_fit: int
    smes_met: int
    unmet_must: tuple[Candidate, ...]
    solver: str


@dataclass(frozen=True)
class Meeting:
    """One meeting placed in the grid."""

    leader: str
    sme: str
    slot: int
    table: int
    demand: str | None = None
    locked: bool = False


@dataclass(frozen=True)
class Conflict:
    """A problem in a schedule, as data (the service words it for organizers).

    `kind` and what the other fields hold:
    - outside_grid: the meeting's leader and SME, the slot and table it was given;
    - unavailable: `reason` "break" (the slot is a break; the meeting's leader and SME) or
      "party" (the party that cannot come, then the one it would meet);
    - double_booked: the party, then everyone it meets in that slot; `meetings` how many;
    - table_clash: every party at that table in that slot; `meetings` how many;
    - unplaced (from `build_schedule`): a chosen pair that found no place, `reason` "full" (no
      slot or table left) or "no_common_slot" (the two are never free at the same time).
    """

    kind: str
    parties: tuple[str, ...]
    slot: int | None = None
    table: int | None = None
    meetings: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class Schedule:
    """Placed meetings, the chosen pairs that did not fit, and the conflicts found."""

    meetings: tuple[Meeting, ...]
    unplaced: tuple[Candidate, ...]
    conflicts: tuple[Conflict, ...]
    idle_gaps: int


def _index(parties: Sequence[Party]) -> dict[str, Party]:
    by_id: dict[str, Party] = {}
    for p in parties:
        if p.kind not in (LEADER, SME):
            raise ValueError(f"party {p.id!r}: kind must be 'leader' or 'sme', not {p.kind!r}")
        if p.id in by_id:
            raise ValueError(f"party id {p.id!r} appears twice")
        by_id[p.id] = p
    return by_id


def _check_pair(by_id: dict[str, Party], leader: str, sme: str) -> None:
    for pid, kind in ((leader, LEADER), (sme, SME)):
        party = by_id.get(pid)
        if party is None:
            raise ValueError(f"unknown party {pid!r}")
        if party.kind != kind:
            raise ValueError(f"party {pid!r} is a {party.kind}, expected a {kind}")


def _free_slots(party: Party, slots: int) -> set[int]:
    return set(range(slots)) - party.unavailable


def _capacity(party: Party, slots: int) -> int:
    # A party cannot meet more often than it has slots to meet in.
    n = len(_free_slots(party, slots))
    return max(0, n if party.cap is None else min(party.cap, n))
