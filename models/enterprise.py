"""Firms: the enterprise record, its chain-leader role and its SME profile, claims to act for it."""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, UtcDateTime, VersionedMixin
from models.taxonomy import Chain, ChainLink

leader_chains = Table(
    "leader_chains",
    Base.metadata,
    Column("leader_id", ForeignKey("chain_leaders.id", ondelete="CASCADE"), primary_key=True),
    Column("chain_id", ForeignKey("chains.id", ondelete="CASCADE"), primary_key=True),
)

sme_chains = Table(
    "sme_chains",
    Base.metadata,
    Column("sme_id", ForeignKey("sme_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("chain_id", ForeignKey("chains.id", ondelete="CASCADE"), primary_key=True),
)

sme_links = Table(
    "sme_links",
    Base.metadata,
    Column("sme_id", ForeignKey("sme_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("link_id", ForeignKey("chain_links.id", ondelete="CASCADE"), primary_key=True),
)


class Enterprise(TimestampMixin, Base):
    """A legal entity, identified by its unified social credit code when known."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    city: Mapped[str] = mapped_column(String(20), index=True)
    county: Mapped[str | None] = mapped_column(String(50))
    size_class: Mapped[str | None] = mapped_column(String(20))


class ChainLeader(VersionedMixin, Base):
    """A chain-leader firm (链主企业) that posts needs."""

    __tablename__ = "chain_leaders"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    contact_email: Mapped[str | None] = mapped_column(String(200))

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    chains: Mapped[list[Chain]] = relationship(secondary=leader_chains, order_by=Chain.position)


class SmeProfile(VersionedMixin, Base):
    """The capability profile of a specialised SME (中小企业能力清单)."""

    __tablename__ = "sme_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True
    )
    tier: Mapped[str] = mapped_column(String(20), index=True)
    processes: Mapped[list] = mapped_column(default=list)
    invention_patents: Mapped[int] = mapped_column(Integer, default=0)
    utility_patents: Mapped[int] = mapped_column(Integer, default=0)
    rd_share: Mapped[float | None] = mapped_column(Float)
    leaders_supplied: Mapped[list] = mapped_column(default=list)
    export: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    # Lower-cased concatenation of the searchable texts, kept by the service for `q` filters.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # sha1 of the text the matcher encodes; an embedding with another hash is stale.
    match_text_hash: Mapped[str | None] = mapped_column(String(40))

    enterprise: Mapped[Enterprise] = relationship(lazy="joined")
    products: Mapped[list["SmeProduct"]] = relationship(
        back_populates="sme",
        order_by="SmeProduct.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    certifications: Mapped[list["SmeCertification"]] = relationship(
        back_populates="sme",
        order_by="SmeCertification.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    chains: Mapped[list[Chain]] = relationship(
        secondary=sme_chains, order_by=Chain.position, lazy="selectin"
    )
    links: Mapped[list[ChainLink]] = relationship(
        secondary=sme_links, order_by=ChainLink.position, lazy="selectin"
    )


class SmeProduct(TimestampMixin, Base):
    """A main product of an SME with its niche market, capacity and share."""

    __tablename__ = "sme_products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sme_id: Mapped[int] = mapped_column(
        ForeignKey("sme_profiles.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    niche: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[str | None] = mapped_column(String(200))
    market_share: Mapped[str | None] = mapped_column(String(200))

    sme: Mapped[SmeProfile] = relationship(back_populates="products")


class SmeCertification(Base):
    """A certificate an SME holds, normalised to the controlled vocabulary when known."""

    __tablename__ = "sme_certifications"

    sme_id: Mapped[int] = mapped_column(
        ForeignKey("sme_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    sme: Mapped[SmeProfile] = relationship(back_populates="certifications")


class EnterpriseClaim(TimestampMixin, Base):
    """An account's request to act for a firm already on record, decided by an organizer.

    A credit code alone never binds an account to an existing firm: whoever knows it (it is
    printed on every licence) could otherwise take over a leader's record or a deleted profile.
    """

    __tablename__ = "enterprise_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    # Why the claimant speaks for the firm (position, licence, whom to call to check).
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    decided_by: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str] = mapped_column(String(500), default="")

    enterprise: Mapped[Enterprise] = relationship()
    user: Mapped["User"] = relationship()  # noqa: F821 - models.auth, same metadata
