"""SQLAlchemy ORM tables of chainmatch; one metadata, imports only SQLAlchemy."""

from models.auth import AuditEntry, AuthToken, Interest, LoginFailure, User
from models.base import Base, utcnow
from models.demand import Demand
from models.enterprise import (
    ChainLeader,
    Enterprise,
    EnterpriseClaim,
    SmeCertification,
    SmeProduct,
    SmeProfile,
    leader_chains,
    sme_chains,
    sme_links,
)
from models.event import Event, EventPair, EventParticipant, Meeting
from models.feedback import MatchFeedback, RankingWeights
from models.jobs import ImportJob
from models.matching import Embedding, EncodeClaim, IndexChange
from models.taxonomy import Chain, ChainLink, SubChain, TaxonomyVersion

metadata = Base.metadata

__all__ = [
    "AuditEntry",
    "AuthToken",
    "Base",
    "Chain",
    "ChainLeader",
    "ChainLink",
    "Demand",
    "Embedding",
    "EncodeClaim",
    "Enterprise",
    "EnterpriseClaim",
    "Event",
    "EventPair",
    "EventParticipant",
    "ImportJob",
    "IndexChange",
    "Interest",
    "LoginFailure",
    "MatchFeedback",
    "Meeting",
    "RankingWeights",
    "SmeCertification",
    "SmeProduct",
    "SmeProfile",
    "SubChain",
    "TaxonomyVersion",
    "User",
    "leader_chains",
    "metadata",
    "sme_chains",
    "sme_links",
    "utcnow",
]
