"""Meeting slots of an event day: fixed-length meetings that never overlap a break."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One meeting slot, in minutes after midnight."""

    index: int
    start: int
    end: int

    @property
    def label(self) -> str:
        return f"{hhmm(self.start)}-{hhmm(self.end)}"


def minutes(text: str) -> int:
    """'09:30' -> 570."""
    hours, mins = text.split(":")
    value = int(hours) * 60 + int(mins)
    if not 0 <= value < 24 * 60 or not 0 <= int(mins) < 60:
        raise ValueError(f"not a time of day: {text!r}")
    return value


def hhmm(value: int) -> str:
    """570 -> '09:30'."""
    return f"{value // 60:02d}:{value % 60:02d}"


def slot_times(
    start: str, meeting_minutes: int, gap_minutes: int, count: int, breaks: list[tuple[str, str]]
) -> list[Slot]:
    """Consecutive slots from `start`, each pushed past any break it would overlap."""
    spans = sorted((minutes(a), minutes(b)) for a, b in breaks)
    out: list[Slot] = []
    t = minutes(start)
    while len(out) < count:
        end = t + meeting_minutes
        clash = next(((a, b) for a, b in spans if t < b and a < end), None)
        if clash:
            t = clash[1]
            continue
        if end > 24 * 60:
            raise ValueError("the slots run past midnight")
        out.append(Slot(len(out), t, end))
        t = end + gap_minutes
    return out
