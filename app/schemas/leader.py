"""Chain-leader firms."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from app.schemas.common import (
    City,
    CodeList,
    Email,
    LongText,
    Phone,
    ReadSchema,
    Schema,
    ShortText,
    SizeClassCode,
    Text200,
    Uscc,
)
from matching import vocab


class LeaderCreate(Schema):
    """A new chain-leader firm."""

    name: Text200
    uscc: Uscc = None
    city: City
    county: Annotated[str, StringConstraints(max_length=50)] | None = None
    size_class: SizeClassCode | None = vocab.SizeClass.LARGE
    chains: CodeList = Field(default_factory=list)
    description: LongText = ""
    contact_name: ShortText | None = None
    contact_phone: Phone = None
    contact_email: Email = None


class LeaderUpdate(Schema):
    """A partial update of a leader."""

    name: Text200 | None = None
    uscc: Uscc = None
    city: City | None = None
    county: Annotated[str, StringConstraints(max_length=50)] | None = None
    size_class: SizeClassCode | None = None
    chains: CodeList | None = None
    description: LongText | None = None
    contact_name: ShortText | None = None
    contact_phone: Phone = None
    contact_email: Email = None
    version: int | None = Field(default=None, ge=1, le=2_147_483_647)


class LeaderRead(ReadSchema):
    """A chain leader as the API returns it."""

    id: int
    name: str
    uscc: str | None
    city: str
    county: str | None
    size_class: str | None
    chains: list[str]
    description: str
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    # True when the contacts are withheld: shown once both sides expressed interest or met.
    contact_hidden: bool = False
    demand_count: int = 0
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, leader: Any, demand_count: int = 0) -> "LeaderRead":
        """Build from a ChainLeader row."""
        ent = leader.enterprise
        return cls(
            id=leader.id,
            name=ent.name,
            uscc=ent.uscc,
            city=ent.city,
            county=ent.county,
            size_class=ent.size_class,
            chains=[c.code for c in leader.chains],
            description=leader.description,
            contact_name=leader.contact_name,
            contact_phone=leader.contact_phone,
            contact_email=leader.contact_email,
            demand_count=demand_count,
            version=leader.version,
            created_at=leader.created_at,
            updated_at=leader.updated_at,
        )
