"""Claims: an account asks to act for a firm already on record; an organizer decides."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from app.schemas.common import ReadSchema, RequiredUscc, Schema

ClaimStatus = Literal["pending", "approved", "rejected"]
CLAIM_STATUS_LABELS = {"pending": "待审核", "approved": "已通过", "rejected": "未通过"}
Note = Annotated[str, StringConstraints(max_length=500)]


class ClaimCreate(Schema):
    """The firm by its credit code, and why the caller speaks for it."""

    uscc: RequiredUscc
    note: Note = ""


class ClaimDecision(Schema):
    """An organizer's answer, with the reason the claimant will read."""

    note: Note = ""


class ClaimRead(ReadSchema):
    id: int
    user_id: int
    username: str
    enterprise_id: int
    enterprise_name: str
    uscc: str | None
    note: str
    status: ClaimStatus
    status_label: str
    decision_note: str
    created_at: datetime
    decided_at: datetime | None
    # The SME profile the account was bound to on approval (None: it registers one next).
    sme_id: int | None
