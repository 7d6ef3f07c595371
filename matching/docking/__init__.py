"""Docking events (专场对接): which leader-SME pairs meet, and in which slot at which table.

`choose_meetings` picks the pairs with an integer programme (must-meet pairs first, then at least
one meeting for every SME with a fit, then total quality); `build_schedule` places them in a
slots x tables grid with few idle gaps; `check_schedule` re-verifies any schedule, for instance
after an organizer moved a meeting. Slots and tables are 0-based. Results are data: conflicts
name their kind, parties, slot and table, and the service words them (第1场, 1号桌).

model: the dataclasses; selection: choosing the pairs; timetable: placing them; check: verifying
a schedule and measuring its idle gaps.
"""

from matching.docking.check import check_schedule, idle_gaps
from matching.docking.model import (
    ANNEAL_MAX_STEPS,
    ANNEAL_STEPS_PER_MEETING,
    IMPROVE_ROUNDS,
    LEADER,
    MILP_TIME_LIMIT,
    SME,
    Candidate,
    Conflict,
    MatchListResult,
    Meeting,
    Party,
    Schedule,
)
from matching.docking.selection import choose_meetings, greedy_meetings
from matching.docking.timetable import build_schedule

__all__ = [
    "ANNEAL_MAX_STEPS",
    "ANNEAL_STEPS_PER_MEETING",
    "IMPROVE_ROUNDS",
    "LEADER",
    "MILP_TIME_LIMIT",
    "SME",
    "Candidate",
    "Conflict",
    "MatchListResult",
    "Meeting",
    "Party",
    "Schedule",
    "build_schedule",
    "check_schedule",
    "choose_meetings",
    "greedy_meetings",
    "idle_gaps",
]
