"""Docking events, participants, preferences, meetings, outcomes and reports."""

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from app.schemas.common import (
    CodeList,
    LongText,
    ReadSchema,
    Schema,
    ShortText,
    Text200,
    partial_of,
    version_field,
)
from matching.timeslots import minutes

_TIME = re.compile(r"^\d{1,2}:\d{2}$")


def _time(value: str) -> str:
    if not _TIME.match(value):
        raise ValueError(f"时间格式应为 HH:MM，实际“{value}” / time must be HH:MM")
    try:
        minutes(value)
    except ValueError:
        raise ValueError(f"时间无效“{value}” / not a time of day") from None
    h, m = value.split(":")
    return f"{int(h):02d}:{m}"


TimeOfDay = Annotated[str, AfterValidator(_time)]

Mark = Literal["must", "no", "neutral"]
OUTCOME_LABELS = {
    "none": "无进一步联系",
    "valuable": "有价值联系",
    "negotiating": "洽谈中",
    "intention": "达成合作意向",
    "signed": "已签约",
}
Outcome = Literal["none", "valuable", "negotiating", "intention", "signed"]


class Break(Schema):
    start: TimeOfDay
    end: TimeOfDay
    title: ShortText = "休息"

    @model_validator(mode="after")
    def _ordered(self) -> "Break":
        if minutes(self.end) <= minutes(self.start):
            raise ValueError("休息结束时间须晚于开始时间 / a break must end after it starts")
        return self


class EventBase(Schema):
    """What create and update share: the date may be given as `date`."""

    model_config = Schema.model_config | {"populate_by_name": True}


class EventCreate(EventBase):
    """A new docking event."""

    title: Text200
    chains: CodeList = Field(default_factory=list)
    event_date: date = Field(alias="date")
    venue: ShortText = ""
    organizer: ShortText = ""
    start_time: TimeOfDay = "09:00"
    meeting_minutes: int = Field(default=20, ge=5, le=240)
    gap_minutes: int = Field(default=5, ge=0, le=120)
    slot_count: int = Field(default=12, ge=1, le=60)
    breaks: list[Break] = Field(default_factory=list, max_length=10)
    tables: int = Field(default=10, ge=1, le=500)
    leader_fixed_table: bool = True
    notes: LongText = ""


EventUpdate = partial_of(
    EventCreate,
    "EventUpdate",
    "A partial update of an event.",
    base=EventBase,
    status=(Literal["planning", "scheduled", "done"] | None, Field(default=None)),
    version=version_field(),
)


class SlotRead(BaseModel):
    index: int
    start: str
    end: str


class ParticipantIn(Schema):
    """A leader (with the needs it brings) or an SME joining an event."""

    leader_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    sme_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    demand_ids: list[Annotated[int, Field(ge=1, le=2_147_483_647)]] = Field(
        default_factory=list, max_length=100
    )
    cap: int | None = Field(default=None, ge=0, le=60, description="最多会谈场次 / meeting cap")
    unavailable_slots: list[Annotated[int, Field(ge=0, le=59)]] = Field(
        default_factory=list, max_length=60
    )

    @model_validator(mode="after")
    def _one_party(self) -> "ParticipantIn":
        if (self.leader_id is None) == (self.sme_id is None):
            raise ValueError(
                "须且只能填写 leader_id 或 sme_id 之一 / give exactly one of leader_id, sme_id"
            )
        if self.sme_id is not None and self.demand_ids:
            raise ValueError("只有链主可携带需求 / only a leader brings needs")
        return self


class ParticipantsIn(Schema):
    participants: list[ParticipantIn] = Field(min_length=1, max_length=2000)


class ParticipantRead(BaseModel):
    id: int
    kind: str
    party: str
    leader_id: int | None
    sme_id: int | None
    name: str
    demand_ids: list[int]
    cap: int | None
    unavailable_slots: list[int]
    # A participant sees its possible counterparts by name only: their needs, cap and
    # unavailable slots are the organizer's planning data.
    details_hidden: bool = Field(
        default=False, description="需求、上限与不可用场次不公开 / needs, cap and slots withheld"
    )


class PreferenceIn(Schema):
    """One side's mark on a pair, or a meeting request / the other side's answer to it."""

    leader_id: int = Field(ge=1, le=2_147_483_647)
    sme_id: int = Field(ge=1, le=2_147_483_647)
    side: Literal["leader", "sme"]
    mark: Mark | None = None
    request: Literal["request", "accept", "decline"] | None = None

    @model_validator(mode="after")
    def _something(self) -> "PreferenceIn":
        if self.mark is None and self.request is None:
            raise ValueError("须填写 mark 或 request / give a mark or a request action")
        return self


class PreferencesIn(Schema):
    preferences: list[PreferenceIn] = Field(min_length=1, max_length=5000)


class PairRead(BaseModel):
    """A pair's marks; a participant sees its own mark only (the other side's is null)."""

    leader_id: int
    sme_id: int
    leader_mark: str | None
    sme_mark: str | None
    requested_by: str | None
    request_status: str | None


class EventRead(ReadSchema):
    """An event with its computed slots."""

    id: int
    title: str
    chains: list[str]
    date: date
    venue: str
    organizer: str
    start_time: str
    meeting_minutes: int
    gap_minutes: int
    slot_count: int
    breaks: list[dict]
    tables: int
    leader_fixed_table: bool
    status: str
    notes: str
    slots: list[SlotRead]
    leaders: int
    smes: int
    version: int
    created_at: datetime
    updated_at: datetime


class MeetingRead(BaseModel):
    """A meeting in the grid."""

    id: int
    slot: int | None
    table: int | None
    start: str | None
    end: str | None
    demand_id: int | None
    leader_id: int
    sme_id: int
    leader_name: str
    sme_name: str
    quality: float
    must: bool
    locked: bool
    status: str
    held: bool | None
    outcome: str | None
    outcome_label: str | None
    amount: float | None
    # The organizer's note on the outcome; not shown to the participants.
    note: str = ""
    version: int


class ConflictRead(BaseModel):
    kind: str
    message: str
    parties: list[str]
    slot: int | None


class MatchListRead(BaseModel):
    """The chosen meetings and how the optimisation did against a greedy pass."""

    meetings: list[MeetingRead]
    objective: float
    greedy_objective: float
    ratio_to_greedy: float | None
    smes_with_fit: int
    smes_met: int
    # The greedy pass maximises plain quality and so may beat `objective` on it, but it leaves
    # quiet SMEs out: compare coverage too.
    greedy_smes_met: int
    unmet_must: list[dict]
    solver: str


class ScheduleRead(BaseModel):
    meetings: list[MeetingRead]
    conflicts: list[ConflictRead]
    unplaced: list[MeetingRead]
    idle_gaps: int


class MeetingUpdate(Schema):
    """Move, lock, cancel or re-instate a meeting (or add one with POST)."""

    slot: int | None = Field(default=None, ge=0, le=59)
    table: int | None = Field(default=None, ge=0, le=499)
    locked: bool | None = None
    status: Literal["planned", "cancelled"] | None = None
    force: bool = Field(default=False, description="即使冲突也保存 / save despite conflicts")
    version: int | None = Field(default=None, ge=1, le=2_147_483_647)


class MeetingCreate(Schema):
    leader_id: int = Field(ge=1, le=2_147_483_647)
    sme_id: int = Field(ge=1, le=2_147_483_647)
    demand_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    slot: int | None = Field(default=None, ge=0, le=59)
    table: int | None = Field(default=None, ge=0, le=499)
    locked: bool = True
    force: bool = False


class OutcomeIn(Schema):
    """What came of a meeting; can be updated months later."""

    held: bool
    outcome: Outcome | None = None
    amount: float | None = Field(default=None, ge=0, le=1e9, description="金额，万元")
    note: Annotated[str, StringConstraints(max_length=2000)] = ""

    @model_validator(mode="after")
    def _consistent(self) -> "OutcomeIn":
        if not self.held and self.outcome not in (None, "none"):
            raise ValueError("未到场的会谈不能有合作成果 / a no-show has no outcome")
        if self.amount and self.outcome not in ("intention", "signed"):
            raise ValueError(
                "只有达成意向或签约才填写金额 / an amount needs an intention or a signing"
            )
        return self
