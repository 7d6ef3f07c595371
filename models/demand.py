"""A chain leader's purchasing or technology need."""

from datetime import date

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, VersionedMixin
from models.enterprise import ChainLeader
from models.taxonomy import Chain, ChainLink


class Demand(VersionedMixin, Base):
    """A need a chain leader posts (大企业采购/配套/技术需求)."""

    __tablename__ = "demands"

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(
        ForeignKey("chain_leaders.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    chain_id: Mapped[int | None] = mapped_column(
        ForeignKey("chains.id", ondelete="SET NULL"), index=True
    )
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("chain_links.id", ondelete="SET NULL"), index=True
    )
    demand_type: Mapped[str] = mapped_column(String(20), index=True)
    keywords: Mapped[list] = mapped_column(default=list)
    specification: Mapped[str | None] = mapped_column(Text)
    material_process: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(50))
    # Budget in 万元 (10k CNY); negotiable means "面议".
    budget_min: Mapped[float | None] = mapped_column(Float)
    budget_max: Mapped[float | None] = mapped_column(Float)
    budget_negotiable: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"name": "IATF 16949", "must": true}, ...]
    required_certifications: Mapped[list] = mapped_column(default=list)
    region_scope: Mapped[str] = mapped_column(String(20), default="any")
    region_cities: Mapped[list] = mapped_column(default=list)
    min_tier: Mapped[str | None] = mapped_column(String(20))
    lead_time_days: Mapped[int | None] = mapped_column(Integer)
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    search_text: Mapped[str] = mapped_column(Text, default="")
    # sha1 of the text the matcher encodes; an embedding with another hash is stale.
    match_text_hash: Mapped[str | None] = mapped_column(String(40))

    leader: Mapped[ChainLeader] = relationship(lazy="joined")
    chain: Mapped[Chain | None] = relationship(lazy="joined")
    link: Mapped[ChainLink | None] = relationship(lazy="joined")
