"""Placing the chosen meetings in a slots x tables grid with few idle gaps."""

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from matching.docking.check import check_schedule, idle_gaps
from matching.docking.model import (
    ANNEAL_MAX_STEPS,
    ANNEAL_STEPS_PER_MEETING,
    IMPROVE_ROUNDS,
    Candidate,
    Conflict,
    Meeting,
    Party,
    Schedule,
    _check_pair,
    _free_slots,
    _index,
)


def _gap(mask: int) -> int:
    """Idle slots between the first and the last set bit."""
    if mask == 0:
        return 0
    low = (mask & -mask).bit_length() - 1
    return mask.bit_length() - low - mask.bit_count()


class _Grid:
    """Mutable placement state: who meets whom in which slot."""

    FREE = -1
    MULTI = -2  # several locked meetings of one party in one slot

    def __init__(self, n_parties: int, slots: int) -> None:
        self.slots = slots
        self.at = [[self.FREE] * slots for _ in range(n_parties)]
        self.mask = [0] * n_parties
        self.avail = [[True] * slots for _ in range(n_parties)]
        self.ends: list[tuple[int, int]] = []  # (leader, sme) per edge
        self.slot: list[int] = []
        self.locked: list[bool] = []
        self.room: list[int] | None = None  # meetings each slot still takes (None: no limit)
        self.count = [0] * slots

    def add_edge(self, leader: int, sme: int, slot: int = -1, locked: bool = False) -> int:
        e = len(self.ends)
        self.ends.append((leader, sme))
        self.slot.append(-1)
        self.locked.append(locked)
        if slot >= 0:
            self.slot[e] = slot
            for p in (leader, sme):
                self.at[p][slot] = e if self.at[p][slot] == self.FREE else self.MULTI
                self.mask[p] |= 1 << slot
        return e

    def free(self, p: int, s: int) -> bool:
        return self.avail[p][s] and self.at[p][s] == self.FREE

    def has_room(self, s: int, extra: int = 1) -> bool:
        return self.room is None or self.count[s] + extra <= self.room[s]

    def reset(self, edges: list[int], slots: list[int]) -> None:
        """Put the given (placed, movable) edges back into the given slots."""
        for e in edges:
            for p in self.ends[e]:
                self.at[p][self.slot[e]] = self.FREE
            self.count[self.slot[e]] -= 1
        for e, s in zip(edges, slots, strict=True):
            for p in self.ends[e]:
                self.at[p][s] = e
            self.slot[e] = s
            self.count[s] += 1
        for p, row in enumerate(self.at):
            self.mask[p] = sum(1 << s for s, e in enumerate(row) if e != self.FREE)

    def place(self, e: int, s: int) -> None:
        for p in self.ends[e]:
            self.at[p][s] = e
            self.mask[p] |= 1 << s
        self.slot[e] = s
        self.count[s] += 1

    def delta_place(self, e: int, s: int) -> int:
        return sum(_gap(self.mask[p] | 1 << s) - _gap(self.mask[p]) for p in self.ends[e])

    def walk(self, p: int, s: int, other: int, seen: set[int]) -> tuple[list[int], int, int] | None:
        """Follow the path of slots s, other, s, ... from p; None if it meets a locked edge.

        Returns the edges, the far end and the slot the far end is free in.
        """
        path: list[int] = []
        while True:
            e = self.at[p][s]
            if e == self.FREE:
                return path, p, s
            if e == self.MULTI or self.locked[e]:
                return None
            if e in seen:  # back at the start: an even cycle
                return path, -1, s
            seen.add(e)
            path.append(e)
            leader, sme = self.ends[e]
            p = sme if p == leader else leader
            s, other = other, s

    def chain(self, e: int, a: int, b: int) -> tuple[list[int], list[tuple[int, int]]] | None:
        """The (a, b) Kempe component of edge e and its ends, each with the slot it moves to."""
        if self.locked[e]:
            return None
        here = self.slot[e]
        there = b if here == a else a
        seen = {e}
        leader, sme = self.ends[e]
        first = self.walk(leader, there, here, seen)
        if first is None:
            return None
        path1, end1, to1 = first
        if end1 < 0:
            return [e, *path1], []
        second = self.walk(sme, there, here, seen)
        if second is None:
            return None
        path2, end2, to2 = second
        return [e, *path1, *path2], [(end1, to1), (end2, to2)]

    def flip_delta(
        self,
        edges: list[int],
        ends: list[tuple[int, int]],
        a: int,
        b: int,
        check_room: bool = True,
    ) -> int | None:
        """Gap change of swapping slots a and b on a component; None if that is not allowed."""
        for p, to in ends:
            if not self.avail[p][to]:
                return None
        if check_room and self.room is not None:
            na = sum(1 for e in edges if self.slot[e] == a)
            nb = len(edges) - na
            if not (self.has_room(a, nb - na) and self.has_room(b, na - nb)):
                return None
        delta = 0
        for p, to in ends:
            frm = b if to == a else a
            new = (self.mask[p] & ~(1 << frm)) | 1 << to
            delta += _gap(new) - _gap(self.mask[p])
        return delta

    def flip(self, edges: list[int], ends: list[tuple[int, int]], a: int, b: int) -> None:
        for e in edges:
            s = self.slot[e]
            for p in self.ends[e]:
                if self.at[p][s] == e:
                    self.at[p][s] = self.FREE
            self.count[s] -= 1
        for e in edges:
            s = b if self.slot[e] == a else a
            for p in self.ends[e]:
                self.at[p][s] = e
            self.slot[e] = s
            self.count[s] += 1
        for p, to in ends:
            frm = b if to == a else a
            self.mask[p] = (self.mask[p] & ~(1 << frm)) | 1 << to


def _construct(grid: _Grid, movable: list[int], n_parties: int, breaks: frozenset[int]) -> None:
    """Fill slot after slot with a maximum-weight matching of the meetings still to place.

    A pair weighs more when a side has few free slots left for its remaining meetings or the
    pair few slots left in common (so nobody is left over), and when a side met just before or
    has started its day (so its meetings stay consecutive).
    """
    left = [0] * n_parties
    for e in movable:
        for p in grid.ends[e]:
            left[p] += 1
    pending = list(movable)
    for s in range(grid.slots):
        if s in breaks or not pending:
            continue
        cand = [
            e for e in pending if grid.free(grid.ends[e][0], s) and grid.free(grid.ends[e][1], s)
        ]
        if not cand:
            continue
        weight: dict[int, float] = {}
        below = (1 << s) - 1
        for e in cand:
            for p in grid.ends[e]:
                if p in weight:
                    continue
                ahead = sum(1 for t in range(s, grid.slots) if grid.free(p, t))
                w = left[p] / ahead
                if left[p] >= ahead:
                    w += 20.0  # must meet now or some meeting will not fit
                if s > 0 and grid.mask[p] >> (s - 1) & 1:
                    w += 4.0  # keeps a run going
                elif grid.mask[p] & below:
                    w += 3.0  # ends a gap that is already open
                weight[p] = w
        rows = list(dict.fromkeys(grid.ends[e][0] for e in cand))
        cols = list(dict.fromkeys(grid.ends[e][1] for e in cand))
        ri = {p: i for i, p in enumerate(rows)}
        ci = {p: j for j, p in enumerate(cols)}
        w_mat = np.zeros((len(rows), len(cols)))
        which = np.full((len(rows), len(cols)), -1, dtype=np.int64)
        for e in cand:
            u, v = grid.ends[e]
            both = sum(1 for t in range(s, grid.slots) if grid.free(u, t) and grid.free(v, t))
            # A pair with few slots left in common must be seated before it runs out of them.
            w = 1.0 + weight[u] + weight[v] + (10.0 if both == 1 else 2.0 / both)
            i, j = ri[u], ci[v]
            if w > w_mat[i, j]:
                w_mat[i, j] = w
                which[i, j] = e
        r_idx, c_idx = linear_sum_assignment(w_mat, maximize=True)
        picked = [
            (-float(w_mat[i, j]), int(which[i, j]))
            for i, j in zip(r_idx, c_idx, strict=True)
            if which[i, j] >= 0
        ]
        if grid.room is not None:
            picked = sorted(picked)[: max(0, grid.room[s] - grid.count[s])]
        done = set()
        for _, e in picked:
            grid.place(e, s)
            done.add(e)
            for p in grid.ends[e]:
                left[p] -= 1
        pending = [e for e in pending if e not in done]


def _repair(grid: _Grid, usable: list[int]) -> None:
    """Place left-over meetings, freeing a common slot by a Kempe swap where needed.

    If x is free in slot a and y in slot b, swapping a and b along the path from y that starts
    in slot a frees y in a without touching x (the path reaches x's side only through a-edges):
    König's argument, so with no unavailability nothing of degree <= slots is left over.
    """
    progress = True
    while progress:
        progress = False
        for e in range(len(grid.ends)):
            if grid.slot[e] >= 0 or grid.locked[e]:
                continue
            u, v = grid.ends[e]
            best: tuple[int, int, int] | None = None  # (delta, slot, tie-break)
            best_move = None
            for s in usable:
                if grid.free(u, s) and grid.free(v, s) and grid.has_room(s):
                    d = grid.delta_place(e, s)
                    if best is None or (d, s, 0) < best:
                        best, best_move = (d, s, 0), None
            if best is None:
                for x, y in ((u, v), (v, u)):
                    for a in usable:
                        if not grid.free(x, a) or not grid.avail[y][a]:
                            continue
                        f = grid.at[y][a]
                        if f < 0:
                            continue
                        for b in usable:
                            if b == a or not grid.free(y, b):
                                continue
                            found = grid.chain(f, a, b)
                            if found is None:
                                continue
                            edges, ends = found
                            d = grid.flip_delta(edges, ends, a, b)
                            if d is None:
                                continue
                            na = sum(1 for g in edges if grid.slot[g] == a)
                            if not grid.has_room(a, len(edges) - 2 * na + 1):
                                continue
                            # y's a-meeting moved to b; then both sides take slot a.
                            my = (grid.mask[y] & ~(1 << a)) | 1 << b
                            mx = grid.mask[x]
                            d += _gap(my | 1 << a) - _gap(my) + _gap(mx | 1 << a) - _gap(mx)
                            key = (d, a, b)
                            if best is None or key < best:
                                best, best_move = key, (edges, ends, a, b)
            if best is None:
                continue
            if best_move is not None:
                grid.flip(*best_move)
            grid.place(e, best[1])
            progress = True


def _components(
    grid: _Grid, leaders: list[int], a: int, b: int
) -> list[tuple[list[int], list[tuple[int, int]]]]:
    """The movable path components of the subgraph of meetings in slots a and b."""
    seen: set[int] = set()
    out = []
    for u in leaders:
        for s in (a, b):
            e = grid.at[u][s]
            if e < 0 or e in seen or grid.locked[e]:
                continue
            found = grid.chain(e, a, b)
            if found is None:
                continue
            seen.update(found[0])
            if found[1]:  # cycles keep everyone's slots
                out.append(found)
    return out


def _improve(grid: _Grid, leaders: list[int], usable: list[int]) -> None:
    """Swap pairs of slots along Kempe components while that shortens idle gaps.

    Swapping two slots on a component keeps everyone single-booked; only the component's two
    ends change their slots, so a move is checked and scored in constant time. When tables
    are short, a move that would overfill a slot is paired with one that empties it.
    """
    for _ in range(IMPROVE_ROUNDS):
        improved = False
        for ia, a in enumerate(usable):
            for b in usable[ia + 1 :]:
                held: dict[int, list[tuple[int, list[int], list[tuple[int, int]]]]] = {
                    1: [],
                    -1: [],
                }
                for edges, ends in _components(grid, leaders, a, b):
                    d = grid.flip_delta(edges, ends, a, b)
                    if d is not None:
                        if d < 0:
                            grid.flip(edges, ends, a, b)
                            improved = True
                        continue
                    d = grid.flip_delta(edges, ends, a, b, check_room=False)
                    if d is not None:
                        # Components are vertex-disjoint, so their deltas add up.
                        na = sum(1 for e in edges if grid.slot[e] == a)
                        held[len(edges) - 2 * na].append((d, edges, ends))
                gains, losses = sorted(held[1], key=_first), sorted(held[-1], key=_first)
                for (d1, e1, n1), (d2, e2, n2) in zip(gains, losses, strict=False):
                    if d1 + d2 >= 0:
                        break
                    grid.flip(e1, n1, a, b)
                    grid.flip(e2, n2, a, b)
                    improved = True
        if not improved:
            return


def _first(item: tuple) -> int:
    return item[0]


def _anneal(grid: _Grid, movable: list[int], usable: list[int], seed: int) -> None:
    """Simulated annealing over single Kempe swaps; ends in the best state seen.

    A fixed number of steps from a seeded generator, so the result is reproducible.
    """
    placed = [e for e in movable if grid.slot[e] >= 0]
    if len(placed) < 2 or len(usable) < 2:
        return
    rng = random.Random(seed)
    steps = min(ANNEAL_MAX_STEPS, ANNEAL_STEPS_PER_MEETING * len(placed))
    current = best = sum(_gap(m) for m in grid.mask)
    best_slots = [grid.slot[e] for e in placed]
    t_hot, t_cold = 1.0, 0.05
    cool = (t_cold / t_hot) ** (1.0 / steps)
    temp = t_hot
    for _ in range(steps):
        temp *= cool
        e = placed[rng.randrange(len(placed))]
        a = grid.slot[e]
        b = usable[rng.randrange(len(usable))]
        if a == b:
            continue
        found = grid.chain(e, a, b)
        if found is None or not found[1]:
            continue
        d = grid.flip_delta(found[0], found[1], a, b)
        if d is None or (d > 0 and rng.random() >= math.exp(-d / temp)):
            continue
        grid.flip(found[0], found[1], a, b)
        current += d
        if current < best:
            best = current
            best_slots = [grid.slot[e] for e in placed]
    if current > best:
        grid.reset(placed, best_slots)


def _tables_per_slot(grid: _Grid, taken: dict[int, set[int]], tables: int) -> dict[int, int]:
    """A table for every placed movable meeting; a leader keeps its last table where it can."""
    table_of: dict[int, int] = {}
    last: dict[int, int] = {}
    for s in range(grid.slots):
        here = sorted(e for e in range(len(grid.ends)) if grid.slot[e] == s and not grid.locked[e])
        used = set(taken.get(s, ()))
        rest = []
        for e in here:
            t = last.get(grid.ends[e][0])
            if t is not None and t not in used:
                table_of[e] = t
                used.add(t)
            else:
                rest.append(e)
        free = (t for t in range(tables) if t not in used)
        for e in rest:
            table_of[e] = next(free)
        for e in here:
            last[grid.ends[e][0]] = table_of[e]
    return table_of


def build_schedule(
    parties: Sequence[Party],
    meetings: Sequence[Candidate],
    slots: int,
    tables: int,
    locked: Sequence[Meeting] = (),
    leader_fixed_table: bool = True,
    breaks: frozenset[int] = frozenset(),
) -> Schedule:
    """Place the chosen pairs in slots x tables with few idle gaps; locked meetings stay put.

    A locked meeting stands for one chosen candidate of the same pair. With
    `leader_fixed_table` each leader keeps one table all day (a locked meeting's table if it
    has one) as long as there are enough tables, otherwise tables are handed out per slot.
    """
    by_id = _index(parties)
    for c in meetings:
        _check_pair(by_id, c.leader, c.sme)
    for m in locked:
        _check_pair(by_id, m.leader, m.sme)
    ids = list(by_id)
    pidx = {pid: i for i, pid in enumerate(ids)}
    slots = max(0, slots)
    grid = _Grid(len(ids), slots)
    for pid, party in by_id.items():
        row = grid.avail[pidx[pid]]
        for s in range(slots):
            row[s] = s not in breaks and s not in party.unavailable

    taken: dict[int, set[int]] = defaultdict(set)  # tables held by locked meetings per slot
    table_holder: dict[tuple[int, int], set[str]] = defaultdict(set)
    for m in locked:
        inside = 0 <= m.slot < slots
        grid.add_edge(pidx[m.leader], pidx[m.sme], m.slot if inside else -1, locked=True)
        if inside and 0 <= m.table < tables:
            taken[m.slot].add(m.table)
            table_holder[(m.slot, m.table)].add(m.leader)

    represented = Counter((m.leader, m.sme) for m in locked)
    movable: list[int] = []
    source: dict[int, Candidate] = {}
    unplaceable: list[Candidate] = []
    for c in meetings:
        if represented[(c.leader, c.sme)] > 0:
            represented[(c.leader, c.sme)] -= 1
            continue
        if slots == 0 or tables <= 0:
            unplaceable.append(c)
            continue
        e = grid.add_edge(pidx[c.leader], pidx[c.sme])
        movable.append(e)
        source[e] = c

    needing = sorted(
        {grid.ends[e][0] for e in movable} | {pidx[m.leader] for m in locked if 0 <= m.slot < slots}
    )
    fixed = leader_fixed_table and len(needing) <= tables
    home: dict[int, int] = {}
    if fixed:
        claimed: set[int] = set()
        for m in sorted(locked, key=lambda m: (m.slot, m.table)):
            u = pidx[m.leader]
            inside = 0 <= m.slot < slots and 0 <= m.table < tables
            if u not in home and inside and m.table not in claimed:
                home[u] = m.table
                claimed.add(m.table)
        spare = (t for t in range(tables) if t not in claimed)
        for u in needing:
            if u not in home:
                home[u] = next(spare)
        for u in needing:
            for s in range(slots):
                # The home table is held by someone else's locked meeting in this slot.
                if table_holder.get((s, home[u]), set()) - {ids[u]}:
                    grid.avail[u][s] = False
    else:
        grid.room = [max(0, tables - len(taken.get(s, ()))) for s in range(slots)]

    usable = [s for s in range(slots) if s not in breaks]
    _construct(grid, movable, len(ids), breaks)
    _repair(grid, usable)
    _improve(grid, needing, usable)
    _anneal(grid, movable, usable, seed=len(movable))
    _improve(grid, needing, usable)
    _repair(grid, usable)  # the moves may have opened a cell for a left-over meeting

    table_of = (
        {e: home[grid.ends[e][0]] for e in movable if grid.slot[e] >= 0}
        if fixed
        else _tables_per_slot(grid, taken, tables)
    )
    placed = [
        Meeting(
            leader=source[e].leader,
            sme=source[e].sme,
            slot=grid.slot[e],
            table=table_of[e],
            demand=source[e].demand,
        )
        for e in movable
        if grid.slot[e] >= 0
    ]
    kept = [m if m.locked else replace(m, locked=True) for m in locked]
    out = tuple(sorted([*kept, *placed], key=lambda m: (m.slot, m.table, m.leader, m.sme)))
    unplaced_set = {e for e in movable if grid.slot[e] < 0}
    unplaced = [*unplaceable, *(source[e] for e in movable if e in unplaced_set)]
    conflicts = list(check_schedule(parties, out, slots, tables, breaks))
    for c in unplaced:
        common = _free_slots(by_id[c.leader], slots) & _free_slots(by_id[c.sme], slots)
        why = "full" if common - breaks else "no_common_slot"
        conflicts.append(Conflict(kind="unplaced", parties=(c.leader, c.sme), reason=why))
    return Schedule(
        meetings=out,
        unplaced=tuple(unplaced),
        conflicts=tuple(conflicts),
        idle_gaps=idle_gaps(out),
    )
