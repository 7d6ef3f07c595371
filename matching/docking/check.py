"""Checking any schedule (one an organizer edited, say): every conflict, as data."""

from collections import defaultdict
from collections.abc import Sequence

from matching.docking.model import _KIND_ORDER, Conflict, Meeting, Party, _check_pair, _index


def check_schedule(
    parties: Sequence[Party],
    schedule_meetings: Sequence[Meeting],
    slots: int,
    tables: int,
    breaks: frozenset[int] = frozenset(),
) -> tuple[Conflict, ...]:
    """Every conflict in a schedule: outside the grid, unavailable or break, double booking,
    two meetings at one table."""
    by_id = _index(parties)
    out: list[Conflict] = []
    by_party: dict[tuple[str, int], list[Meeting]] = defaultdict(list)
    by_cell: dict[tuple[int, int], list[Meeting]] = defaultdict(list)
    for m in schedule_meetings:
        _check_pair(by_id, m.leader, m.sme)
        pair = (m.leader, m.sme)
        if not (0 <= m.slot < slots and 0 <= m.table < tables):
            out.append(Conflict("outside_grid", pair, m.slot, m.table))
        if m.slot in breaks:
            out.append(Conflict("unavailable", pair, m.slot, reason="break"))
        for pid, other in (pair, pair[::-1]):
            if m.slot in by_id[pid].unavailable:
                out.append(Conflict("unavailable", (pid, other), m.slot, reason="party"))
            by_party[(pid, m.slot)].append(m)
        by_cell[(m.slot, m.table)].append(m)
    for (pid, slot), group in by_party.items():
        if len(group) > 1:
            others = tuple(dict.fromkeys(m.sme if m.leader == pid else m.leader for m in group))
            out.append(Conflict("double_booked", (pid, *others), slot, meetings=len(group)))
    for (slot, table), group in by_cell.items():
        if len(group) > 1:
            names = tuple(dict.fromkeys(p for m in group for p in (m.leader, m.sme)))
            out.append(Conflict("table_clash", names, slot, table, meetings=len(group)))
    out.sort(
        key=lambda c: (
            c.slot,
            _KIND_ORDER[c.kind],
            c.parties,
            c.reason or "",
            -1 if c.table is None else c.table,
        )
    )
    return tuple(out)


def idle_gaps(meetings: Sequence[Meeting]) -> int:
    """Idle slots between each party's first and last meeting, summed over parties."""
    # Breaks and unavailable slots inside that span count too: the party waits through them.
    busy: dict[str, set[int]] = defaultdict(set)
    for m in meetings:
        busy[m.leader].add(m.slot)
        busy[m.sme].add(m.slot)
    return sum(max(s) - min(s) + 1 - len(s) for s in busy.values())
