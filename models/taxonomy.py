"""Chain taxonomy: versioned data, chain -> sub-chain -> link."""

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin


class TaxonomyVersion(TimestampMixin, Base):
    """One published version of the chain list (e.g. the 11-chain list of 2022)."""

    __tablename__ = "taxonomy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text, default="")
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)

    chains: Mapped[list["Chain"]] = relationship(
        back_populates="taxonomy_version", order_by="Chain.position"
    )


class Chain(TimestampMixin, Base):
    """A flagship industrial chain (标志性产业链)."""

    __tablename__ = "chains"
    __table_args__ = (UniqueConstraint("taxonomy_version_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    taxonomy_version_id: Mapped[int] = mapped_column(
        ForeignKey("taxonomy_versions.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    reference_leaders: Mapped[list] = mapped_column(default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)

    taxonomy_version: Mapped[TaxonomyVersion] = relationship(back_populates="chains")
    sub_chains: Mapped[list["SubChain"]] = relationship(
        back_populates="chain", order_by="SubChain.position"
    )
    links: Mapped[list["ChainLink"]] = relationship(
        back_populates="chain", order_by="ChainLink.position"
    )


class SubChain(TimestampMixin, Base):
    """A sub-chain inside a chain (e.g. 轨道交通装备 inside 高端装备)."""

    __tablename__ = "sub_chains"
    __table_args__ = (UniqueConstraint("chain_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chains.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)

    chain: Mapped[Chain] = relationship(back_populates="sub_chains")
    links: Mapped[list["ChainLink"]] = relationship(
        back_populates="sub_chain", order_by="ChainLink.position"
    )


class ChainLink(TimestampMixin, Base):
    """A link (环节) of a chain, tagged upstream, midstream or downstream."""

    __tablename__ = "chain_links"
    __table_args__ = (UniqueConstraint("chain_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("chains.id", ondelete="CASCADE"), index=True)
    sub_chain_id: Mapped[int | None] = mapped_column(
        ForeignKey("sub_chains.id", ondelete="SET NULL"), index=True
    )
    code: Mapped[str] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    keywords: Mapped[list] = mapped_column(default=list)
    gbt_classes: Mapped[list] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    chain: Mapped[Chain] = relationship(back_populates="links")
    sub_chain: Mapped[SubChain | None] = relationship(back_populates="links")
