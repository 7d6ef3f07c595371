"""Organizer exports: schedule CSV/XLSX, agendas (HTML, ICS), the event report and summary."""

import io
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.repositories import events as repo
from app.schemas.event import OUTCOME_LABELS, MeetingRead, ScheduleRead
from app.services import events
from app.services.spreadsheet import append_row, csv_text, sheet_title, workbook_bytes
from models import Event, Meeting

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
SCHEDULE_HEADERS = [
    "场次",
    "开始",
    "结束",
    "桌号",
    "链主企业",
    "中小企业",
    "需求编号",
    "匹配分",
    "必谈",
    "锁定",
    "状态",
]
CHINA = timedelta(hours=8)  # Asia/Shanghai, no daylight saving


def _row(m: MeetingRead) -> list:
    return [
        (m.slot + 1) if m.slot is not None else "",
        m.start or "",
        m.end or "",
        (m.table + 1) if m.table is not None else "",
        m.leader_name,
        m.sme_name,
        m.demand_id or "",
        round(m.quality, 3),
        "是" if m.must else "",
        "是" if m.locked else "",
        "已取消" if m.status == "cancelled" else "计划中",
    ]


def schedule_csv(schedule: ScheduleRead) -> str:
    """The grid as CSV (UTF-8 with BOM so Excel opens the Chinese right); every field inert."""
    return csv_text([SCHEDULE_HEADERS, *(_row(m) for m in schedule.meetings + schedule.unplaced)])


def _sheet(ws, rows: list[list], headers: list[str]) -> None:
    append_row(ws, headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDE6F0")
    for row in rows:
        append_row(ws, row)
    for column in ws.columns:
        width = max(len(str(c.value or "")) for c in column)
        ws.column_dimensions[column[0].column_letter].width = min(max(8, width * 2 + 2), 50)
    ws.freeze_panes = "A2"


def schedule_xlsx(event: Event, schedule: ScheduleRead) -> bytes:
    """An overview sheet and one sheet per leader."""
    wb = Workbook()
    ws = wb.active
    ws.title = "总览"
    _sheet(ws, [_row(m) for m in schedule.meetings + schedule.unplaced], SCHEDULE_HEADERS)
    used = {"总览"}
    # Keyed by id too: two leaders of the same name keep separate sheets.
    by_leader: dict[tuple[str, int], list[MeetingRead]] = defaultdict(list)
    for m in schedule.meetings:
        by_leader[(m.leader_name, m.leader_id)].append(m)
    for (leader, _), meetings in sorted(by_leader.items()):
        sheet = wb.create_sheet(sheet_title(leader, used, "链主"))
        _sheet(
            sheet, [_row(m) for m in sorted(meetings, key=lambda x: x.slot or 0)], SCHEDULE_HEADERS
        )
    info = wb.create_sheet(sheet_title("活动信息", used))
    _sheet(
        info,
        [
            ["活动", event.title],
            ["日期", str(event.event_date)],
            ["地点", event.venue],
            ["主办", event.organizer],
            ["会谈数", len(schedule.meetings)],
            ["未排入", len(schedule.unplaced)],
            ["冲突", len(schedule.conflicts)],
        ],
        ["项目", "内容"],
    )
    return workbook_bytes(wb)


def _agenda_rows(session: Session, event: Event, party: str) -> tuple[str, list[dict]]:
    schedule = events.get_schedule(session, event.id)
    mine = [
        m
        for m in sorted(schedule.meetings, key=lambda x: x.slot or 0)
        if party in (f"L{m.leader_id}", f"S{m.sme_id}")
    ]
    demands = repo.live_demands(session, [m.demand_id for m in mine if m.demand_id])
    rows = []
    name = None
    for m in mine:
        if party == f"L{m.leader_id}":
            name, counterpart = m.leader_name, m.sme_name
        else:
            name, counterpart = m.sme_name, m.leader_name
        rows.append(
            {
                "slot": m.slot,
                "start": m.start,
                "end": m.end,
                "table": (m.table or 0) + 1,
                "counterpart": counterpart,
                "demand": demands[m.demand_id][0] if m.demand_id in demands else "",
            }
        )
    if name is None:
        names = {p.party: p.name for p in events.list_participants(session, event.id)}
        if party not in names:
            raise NotFound(
                f"{party} is not a participant of event {event.id}", f"{party} 不是本活动的参会方"
            )
        name = names[party]
    return name, rows


def agenda_html(session: Session, event_id: int, party: str) -> str:
    """A printable agenda for one participant."""
    event = events.get_event_row(session, event_id)
    name, rows = _agenda_rows(session, event, party)
    return _TEMPLATES.get_template("agenda.html").render(event=event, name=name, rows=rows)


# Everything a calendar parser may take for the end of a line: escaped as "\n" (RFC 5545 TEXT).
_ICS_BREAK = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Other control characters are not allowed in TEXT at all: dropped.
_ICS_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
ICS_LINE_OCTETS = 75


def ics_text(value: str) -> str:
    """A TEXT value escaped per RFC 5545: backslash, ";", ",", every line break as "\\n"."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = _ICS_BREAK.sub("\\\\n", value).replace("\t", " ")
    return _ICS_CONTROL.sub("", value)


def ics_fold(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    parts, current, size = [], [], 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        # continuation lines start with a space, which counts towards their 75 octets
        if size + n > ICS_LINE_OCTETS:
            parts.append("".join(current))
            current, size = [" "], 1
        current.append(ch)
        size += n
    parts.append("".join(current))
    return "\r\n".join(parts)


def ics_line(name: str, value: str) -> str:
    """One property line: the value escaped as TEXT, the line folded."""
    return ics_fold(f"{name}:{ics_text(value)}")


def _utc(event: Event, hhmm: str) -> str:
    h, m = (int(x) for x in hhmm.split(":"))
    local = datetime(event.event_date.year, event.event_date.month, event.event_date.day, h, m)
    return (local - CHINA).strftime("%Y%m%dT%H%M%SZ")


def agenda_ics(session: Session, event_id: int, party: str) -> str:
    """An iCalendar file of one participant's meetings (times in UTC)."""
    event = events.get_event_row(session, event_id)
    name, rows = _agenda_rows(session, event, party)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Every line, fixed or not, goes through ics_line: user text can never end a line.
    lines = [
        ics_line("BEGIN", "VCALENDAR"),
        ics_line("VERSION", "2.0"),
        ics_line("PRODID", "-//chainmatch//docking events//ZH"),
        ics_line("CALSCALE", "GREGORIAN"),
        ics_line("X-WR-CALNAME", f"{event.title} · {name}"),
    ]
    for r in rows:
        lines += [
            ics_line("BEGIN", "VEVENT"),
            ics_line("UID", f"event{event.id}-{party}-slot{r['slot']}@chainmatch"),
            ics_line("DTSTAMP", stamp),
            ics_line("DTSTART", _utc(event, r["start"])),
            ics_line("DTEND", _utc(event, r["end"])),
            ics_line("SUMMARY", "对接会谈：" + r["counterpart"]),
            ics_line("LOCATION", f"{event.venue} 第{r['table']}桌"),
            ics_line("DESCRIPTION", r["demand"]),
            ics_line("END", "VEVENT"),
        ]
    lines.append(ics_line("END", "VCALENDAR"))
    return "\r\n".join(lines) + "\r\n"


# -- outcomes --------------------------------------------------------------------------------


def _counts(meetings) -> dict:
    held = [m for m in meetings if m.held]
    return {
        "meetings_planned": len(meetings),
        "meetings_held": len(held),
        "no_shows": sum(1 for m in meetings if m.held is False),
        "valuable_contacts": sum(1 for m in held if m.outcome == "valuable"),
        "negotiations": sum(1 for m in held if m.outcome == "negotiating"),
        "intentions": sum(1 for m in held if m.outcome in ("intention", "signed")),
        "signings": sum(1 for m in held if m.outcome == "signed"),
        "amount_wan_yuan": round(sum(m.amount or 0.0 for m in held), 2),
    }


def _chain_codes(session: Session, meetings: list[Meeting]) -> dict[int, str]:
    """The chain of each meeting's need (by meeting id), "未指定" without a live need or chain."""
    demands = repo.live_demands(session, [m.demand_id for m in meetings if m.demand_id])
    return {
        m.id: (demands[m.demand_id][1] if m.demand_id in demands else None) or "未指定"
        for m in meetings
    }


def event_report(session: Session, event_id: int) -> dict:
    """对接成效: counts of the event, per leader and per chain."""
    event = events.get_event_row(session, event_id)
    people = event.participants
    meetings = [m for m in repo.meetings(session, event_id) if m.status == "planned"]
    names = {p.party: p.name for p in events.list_participants(session, event_id)}
    demands = set()
    for p in people:
        if p.kind == "leader":
            demands.update(p.demand_ids or [])
    demands.update(m.demand_id for m in meetings if m.demand_id)
    chains = _chain_codes(session, meetings)
    per_leader = defaultdict(list)
    per_chain = defaultdict(list)
    for m in meetings:
        per_leader[m.leader_id].append(m)
        per_chain[chains[m.id]].append(m)
    return {
        "event": {"id": event.id, "title": event.title, "date": str(event.event_date)},
        "totals": {
            "leaders": sum(1 for p in people if p.kind == "leader"),
            "smes": sum(1 for p in people if p.kind == "sme"),
            "smes_met": len({m.sme_id for m in meetings if m.held}),
            "demands": len(demands),
            **_counts(meetings),
        },
        "per_leader": [
            {"leader_id": lid, "name": names.get(f"L{lid}", ""), **_counts(ms)}
            for lid, ms in sorted(per_leader.items())
        ],
        "per_chain": [{"chain": c, **_counts(ms)} for c, ms in sorted(per_chain.items())],
        "outcome_labels": OUTCOME_LABELS,
    }


REPORT_HEADERS = {
    "meetings_planned": "计划会谈",
    "meetings_held": "实际会谈",
    "no_shows": "未到场",
    "valuable_contacts": "有价值联系",
    "negotiations": "洽谈中",
    "intentions": "合作意向",
    "signings": "签约",
    "amount_wan_yuan": "金额(万元)",
}


def report_xlsx(report: dict) -> bytes:
    """The event report as a workbook: totals, per leader, per chain."""
    wb = Workbook()
    ws = wb.active
    ws.title = "对接成效"
    labels = {
        "leaders": "链主企业",
        "smes": "中小企业",
        "smes_met": "参与会谈的中小企业",
        "demands": "需求",
    }
    labels.update(REPORT_HEADERS)
    _sheet(ws, [[labels.get(k, k), v] for k, v in report["totals"].items()], ["指标", "数值"])
    keys = list(REPORT_HEADERS)
    _sheet(
        wb.create_sheet("按链主"),
        [[r["name"], *[r[k] for k in keys]] for r in report["per_leader"]],
        ["链主企业", *[REPORT_HEADERS[k] for k in keys]],
    )
    _sheet(
        wb.create_sheet("按产业链"),
        [[r["chain"], *[r[k] for k in keys]] for r in report["per_chain"]],
        ["产业链", *[REPORT_HEADERS[k] for k in keys]],
    )
    return workbook_bytes(wb)


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    for f in font_manager.fontManager.ttflist:
        if any(k in f.name for k in ("CJK", "WenQuanYi", "Hei", "Song", "Kai", "YaHei")):
            return f.name
    return None


# At most this many leaders get a bar (the most active ones): beyond that a chart is
# unreadable and its width would exceed what matplotlib can render (a 500).
PNG_MAX_BARS = 40
PNG_LABEL_CHARS = 24
PNG_TITLE_CHARS = 60
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _label(text: str, limit: int) -> str:
    """User text as one short line (newlines and control characters would break the layout)."""
    text = " ".join(_CONTROL_OR_BREAK.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_png(report: dict) -> bytes:
    """A bar chart of meetings, intentions and signings per leader (names drawn literally)."""
    from matplotlib.figure import Figure

    font = _cjk_font()
    # Font passed to each text, not set in the global rcParams: requests run in threads.
    text_font = {"fontfamily": font} if font else {}
    rows = report["per_leader"]
    total = len(rows)
    if total > PNG_MAX_BARS:
        top = sorted(rows, key=lambda r: (-r["meetings_held"], -r["intentions"], -r["signings"]))[
            :PNG_MAX_BARS
        ]
        rows = sorted(top, key=lambda r: r["leader_id"])
    # Without a CJK font on the machine, leader names would be boxes: fall back to ids.
    labels = [_label(r["name"], PNG_LABEL_CHARS) if font else f"L{r['leader_id']}" for r in rows]
    series = [
        ("meetings_held", "实际会谈" if font else "meetings held"),
        ("intentions", "合作意向" if font else "intentions"),
        ("signings", "签约" if font else "signings"),
    ]
    fig = Figure(figsize=(min(max(6, 0.9 * len(rows) + 2), 30), 4.5), dpi=120)
    ax = fig.add_subplot()
    width = 0.8 / len(series)
    for i, (key, label) in enumerate(series):
        xs = [j + i * width for j in range(len(rows))]
        ax.bar(xs, [r[key] for r in rows], width=width, label=label)
    # parse_math and usetex off: a name like "$\undefinedmacro$" is text, not a formula to
    # typeset (mathtext raised on it, a 500).
    ax.set_xticks(
        [j + width for j in range(len(rows))],
        labels,
        rotation=20,
        ha="right",
        parse_math=False,
        usetex=False,
        **text_font,
    )
    if font:
        title = _label(report["event"]["title"], PNG_TITLE_CHARS)
        if total > len(rows):
            title += f"（会谈最多的 {len(rows)} 家链主，共 {total} 家）"
    else:
        title = f"Event {report['event']['id']} results"
        if total > len(rows):
            title += f" (top {len(rows)} of {total} leaders)"
    ax.set_title(title, parse_math=False, usetex=False, **text_font)
    ax.legend(prop={"family": font} if font else None)
    # tight_layout only warns when long labels do not fit; the chart is still drawn.
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def summary(session: Session, year: int | None, chain: str | None) -> dict:
    """Cross-event summary per chain and year, for the province's reporting."""
    rows: dict[tuple[int, str], dict] = {}
    events_count: dict[tuple[int, str], set] = defaultdict(set)
    smes: dict[tuple[int, str], set] = defaultdict(set)
    # Every event's meetings and their needs' chains in two queries, not a few per event.
    dates = {e.id: e.event_date for e in repo.events_between(session, year)}
    meetings = [m for m in repo.meetings_of(session, dates) if m.status == "planned"]
    chains = _chain_codes(session, meetings)
    for m in sorted(meetings, key=lambda m: (dates[m.event_id], m.event_id)):
        code = chains[m.id]
        if chain and code != chain:
            continue
        key = (dates[m.event_id].year, code)
        rows.setdefault(key, {"meetings": []})["meetings"].append(m)
        events_count[key].add(m.event_id)
        if m.held:
            smes[key].add(m.sme_id)
    return {
        "items": [
            {
                "year": y,
                "chain": c,
                "events": len(events_count[(y, c)]),
                "smes_met": len(smes[(y, c)]),
                **_counts(v["meetings"]),
            }
            for (y, c), v in sorted(rows.items())
        ]
    }
