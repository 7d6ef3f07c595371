"""Choosing the pairs that meet: an integer programme (must-meet pairs first, then at least one
meeting for every SME with a fit, then total quality), with greedy and LP fallbacks."""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from matching.docking.model import (
    MILP_TIME_LIMIT,
    Candidate,
    MatchListResult,
    Party,
    _capacity,
    _check_pair,
    _free_slots,
    _index,
)


@dataclass(frozen=True)
class _Pairs:
    """One representative candidate per pair that may meet, and what limits it."""

    reps: tuple[Candidate, ...]  # input order of each pair's first appearance
    feasible: tuple[bool, ...]  # False: no common free slot, or a side with no capacity
    fit_smes: tuple[str, ...]
    caps: dict[str, int]
    total: int


def _prepare(
    parties: Sequence[Party],
    candidates: Sequence[Candidate],
    slots: int,
    tables: int,
    min_quality: float | None,
) -> _Pairs:
    by_id = _index(parties)
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in candidates:
        _check_pair(by_id, c.leader, c.sme)
        if not math.isfinite(c.quality):
            raise ValueError(f"pair {c.leader}-{c.sme}: quality must be finite")
        groups.setdefault((c.leader, c.sme), []).append(c)
    caps = {pid: _capacity(p, slots) for pid, p in by_id.items()}
    total = max(0, slots) * max(0, tables)
    reps: list[Candidate] = []
    feasible: list[bool] = []
    fit: dict[str, None] = {}
    for (leader, sme), group in groups.items():
        # A no-thanks on any duplicate of the pair outranks everything, a must-meet included.
        if any(c.blocked for c in group):
            continue
        # Must-meet is the participants' explicit will, so it survives the quality floor.
        eligible = [c for c in group if c.must or min_quality is None or c.quality >= min_quality]
        if not eligible:
            continue
        reps.append(max(eligible, key=lambda c: (c.must, c.quality)))
        fit[sme] = None
        common = _free_slots(by_id[leader], slots) & _free_slots(by_id[sme], slots)
        feasible.append(bool(common) and caps[leader] > 0 and caps[sme] > 0 and total > 0)
    return _Pairs(tuple(reps), tuple(feasible), tuple(fit), caps, total)


def _take_greedily(order: Iterable[int], pairs: _Pairs, chosen: set[int]) -> set[int]:
    """Add pairs in the given order while both caps and the grid allow; `chosen` is kept."""
    left = dict(pairs.caps)
    for i in chosen:
        left[pairs.reps[i].leader] -= 1
        left[pairs.reps[i].sme] -= 1
    room = pairs.total - len(chosen)
    out = set(chosen)
    for i in order:
        c = pairs.reps[i]
        if i in out or room <= 0 or left[c.leader] <= 0 or left[c.sme] <= 0:
            continue
        out.add(i)
        left[c.leader] -= 1
        left[c.sme] -= 1
        room -= 1
    return out


def _by_quality(pairs: _Pairs, idx: Iterable[int]) -> list[int]:
    return sorted(idx, key=lambda i: -pairs.reps[i].quality)


def _greedy(pairs: _Pairs) -> set[int]:
    return _take_greedily(
        _by_quality(pairs, (i for i, ok in enumerate(pairs.feasible) if ok)), pairs, set()
    )


def greedy_meetings(
    parties: Sequence[Party],
    candidates: Sequence[Candidate],
    slots: int,
    tables: int,
    min_quality: float | None = None,
) -> tuple[Candidate, ...]:
    """The baseline: pairs by quality, best first, taken while caps and the grid allow."""
    pairs = _prepare(parties, candidates, slots, tables, min_quality)
    chosen = _greedy(pairs)
    return tuple(c for i, c in enumerate(pairs.reps) if i in chosen)


def _priority_greedy(pairs: _Pairs, feasible: list[int]) -> set[int]:
    """Fallback when no solver answers: must pairs, then one pair per SME, then quality."""
    ranked = _by_quality(pairs, feasible)
    chosen = _take_greedily((i for i in ranked if pairs.reps[i].must), pairs, set())
    for i in ranked:
        if pairs.reps[i].sme not in {pairs.reps[j].sme for j in chosen}:
            chosen = _take_greedily([i], pairs, chosen)
    return _take_greedily(ranked, pairs, chosen)


def _solve(pairs: _Pairs, feasible: list[int]) -> tuple[set[int], str]:
    """Maximise must pairs, then covered SMEs, then quality, as one weighted 0/1 programme."""
    n = len(feasible)
    if n == 0:
        return set(), "none"
    reps = [pairs.reps[i] for i in feasible]
    smes = list(dict.fromkeys(c.sme for c in reps))
    m = len(smes)
    # Qualities scaled into [-1, 1]: the chosen set's quality then lies in [-K, K] for K the
    # most meetings possible, so one more covered SME (worth 2K + 1) beats any quality change
    # and one more must pair beats any change in coverage plus quality.
    scale = max(abs(c.quality) for c in reps) or 1.0
    k = min(n, pairs.total)
    w_cover = 2.0 * k + 1.0
    w_must = w_cover * (m + 1)
    cost = np.zeros(n + m)
    cost[:n] = [-(w_must * c.must + c.quality / scale) for c in reps]
    cost[n:] = -w_cover

    parties = list(dict.fromkeys([c.leader for c in reps] + smes))
    row_of = {pid: r for r, pid in enumerate(parties)}
    total_row = len(parties)
    sme_col = {sid: n + j for j, sid in enumerate(smes)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for j, c in enumerate(reps):
        for r in (row_of[c.leader], row_of[c.sme], total_row):
            rows.append(r)
            cols.append(j)
            vals.append(1.0)
        # Coverage: y_sme <= sum of that SME's x.
        rows.append(total_row + 1 + sme_col[c.sme] - n)
        cols.append(j)
        vals.append(-1.0)
    for col in sme_col.values():
        rows.append(total_row + 1 + col - n)
        cols.append(col)
        vals.append(1.0)
    a = sparse.csr_array((vals, (rows, cols)), shape=(total_row + 1 + m, n + m))
    ub = np.concatenate(
        [[float(pairs.caps[p]) for p in parties], [float(pairs.total)], np.zeros(m)]
    )

    res = milp(
        cost,
        integrality=np.ones(n + m),
        bounds=Bounds(0.0, 1.0),
        constraints=LinearConstraint(a, -np.inf, ub),
        options={"time_limit": MILP_TIME_LIMIT, "mip_rel_gap": 1e-9},
    )
    if res.success and res.x is not None:
        chosen = {feasible[j] for j in range(n) if res.x[j] > 0.5}
        if _within_caps(pairs, chosen):
            return chosen, "milp-highs"
    why = f"milp status {res.status}"
    # The constraint matrix is a network flow in disguise, so the LP optimum is integral.
    lp = linprog(cost, A_ub=a, b_ub=ub, bounds=(0.0, 1.0), method="highs")
    if lp.success and lp.x is not None and np.all(np.abs(lp.x - np.round(lp.x)) < 1e-6):
        chosen = {feasible[j] for j in range(n) if lp.x[j] > 0.5}
        if _within_caps(pairs, chosen):
            return chosen, f"lp-highs ({why})"
    return _priority_greedy(pairs, feasible), f"greedy-priority ({why}, lp status {lp.status})"


def _within_caps(pairs: _Pairs, chosen: set[int]) -> bool:
    used = Counter[str]()
    for i in chosen:
        used[pairs.reps[i].leader] += 1
        used[pairs.reps[i].sme] += 1
    return len(chosen) <= pairs.total and all(n <= pairs.caps[p] for p, n in used.items())


def choose_meetings(
    parties: Sequence[Party],
    candidates: Sequence[Candidate],
    slots: int,
    tables: int,
    min_quality: float | None = None,
) -> MatchListResult:
    """Pick the pairs that meet: must pairs first, then one meeting per SME, then quality.

    Duplicates of a pair count once (its must candidate, else its best); a blocked duplicate
    blocks the pair; `min_quality` drops weak pairs except must pairs. A pair whose sides share
    no free slot cannot meet.
    """
    pairs = _prepare(parties, candidates, slots, tables, min_quality)
    feasible = [i for i, ok in enumerate(pairs.feasible) if ok]
    chosen, solver = _solve(pairs, feasible)
    greedy = _greedy(pairs)
    meetings = tuple(c for i, c in enumerate(pairs.reps) if i in chosen)
    met = {c.sme for c in meetings}
    return MatchListResult(
        meetings=meetings,
        objective=float(sum(c.quality for c in meetings)),
        greedy_objective=float(sum(pairs.reps[i].quality for i in greedy)),
        smes_with_fit=len(pairs.fit_smes),
        smes_met=sum(1 for s in pairs.fit_smes if s in met),
        unmet_must=tuple(c for i, c in enumerate(pairs.reps) if c.must and i not in chosen),
        solver=solver,
    )
