"""Who may do what: the access rules of the service, and who may see whose contacts."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from app.errors import Forbidden, NotFound, found
from app.repositories import demands as demand_repo
from app.repositories import users as user_repo
from app.services.auth import Principal

CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email")


def ensure_sme_editor(principal: Principal, sme_id: int) -> None:
    """Only the SME itself (and admins) edit a profile."""
    if principal.role == "admin" or (principal.role == "sme" and principal.sme_id == sme_id):
        return
    raise Forbidden(f"only SME {sme_id} itself may change this profile", "只能修改本企业的档案")


def ensure_can_create_sme(principal: Principal) -> None:
    """Staff register SMEs; an SME account registers its own profile once."""
    if principal.is_staff or (principal.role == "sme" and principal.sme_id is None):
        return
    if principal.role == "sme":
        raise Forbidden(
            f"this account already has SME profile {principal.sme_id}",
            f"本账号已绑定企业档案 {principal.sme_id}，请修改该档案",
        )
    raise Forbidden(
        "only SME accounts and organizers register SMEs", "只有中小企业账号或组织方可登记企业档案"
    )


def ensure_leader_editor(principal: Principal, leader_id: int) -> None:
    if principal.role == "admin" or (
        principal.role == "leader" and principal.leader_id == leader_id
    ):
        return
    raise Forbidden(
        f"only leader {leader_id} itself may change this firm or post its needs",
        "只能修改本链主企业的信息和需求",
    )


def demand_leader(session: Session, demand_id: int) -> int:
    missing = NotFound(f"need {demand_id} not found", f"需求 {demand_id} 不存在")
    return found(demand_repo.get(session, demand_id, include_deleted=True), missing).leader_id


def ensure_demand_editor(session: Session, principal: Principal, demand_id: int) -> None:
    """Only the leader that posted a need (and admins) change it."""
    if principal.role == "admin":
        return
    ensure_leader_editor(principal, demand_leader(session, demand_id))


def ensure_demand_reader(session: Session, principal: Principal, demand_id: int) -> None:
    """A need's ranked SMEs are for its leader and the staff."""
    if principal.is_staff:
        return
    leader_id = demand_leader(session, demand_id)
    if principal.role == "leader" and principal.leader_id == leader_id:
        return
    raise Forbidden(
        "only the leader that posted this need sees its matches",
        "只有发布该需求的链主可查看匹配结果",
    )


def sees_demand(principal: Principal, leader_id: int, status: str) -> bool:
    """A draft need is its leader's (and the staff's) alone until it is published."""
    return (
        status != "draft"
        or principal.is_staff
        or (principal.role == "leader" and principal.leader_id == leader_id)
    )


def drafts_visible_to(principal: Principal) -> int | bool | None:
    """Whose drafts a need list may show: True for all (staff), else a leader id or None."""
    if principal.is_staff:
        return True
    return principal.leader_id if principal.role == "leader" else None


def ensure_sme_reader(principal: Principal, sme_id: int) -> None:
    """An SME's fitting needs are for that SME and the staff."""
    if principal.is_staff or (principal.role == "sme" and principal.sme_id == sme_id):
        return
    raise Forbidden("only this SME sees the needs that fit it", "只有该企业本身可查看适配需求")


def ensure_party(principal: Principal, party: str) -> None:
    """An agenda (L12 / S34) is for that participant and the staff."""
    if principal.is_staff:
        return
    kind, number = party[0], int(party[1:])
    if (kind == "L" and principal.role == "leader" and principal.leader_id == number) or (
        kind == "S" and principal.role == "sme" and principal.sme_id == number
    ):
        return
    raise Forbidden("this agenda belongs to another participant", "只能查看本方的日程")


def ensure_own_side(principal: Principal, side: str, leader_id: int, sme_id: int) -> None:
    """Organizers mark any side of a pair; a participant only its own side of its own pairs."""
    if principal.is_staff:
        return
    if (side == "leader" and principal.role == "leader" and principal.leader_id == leader_id) or (
        side == "sme" and principal.role == "sme" and principal.sme_id == sme_id
    ):
        return
    raise Forbidden(
        "a participant marks only its own side of its own pairs", "参会方只能标记本方的配对意向"
    )


class ContactView:
    """Decides, per request, whose contact details the caller may see."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        # Per side ("leader", "sme"): the parties of it whose contacts the caller may see.
        self._revealed: dict[str, set[int]] = {}

    def _sees(self, kind: str, party_id: int) -> bool:
        """Staff and the party itself see its contacts; the other side once they are revealed
        to the caller's own firm (app.repositories.users.revealed)."""
        if self._own(kind, party_id):
            return True
        p, own_side = self.principal, "sme" if kind == "leader" else "leader"
        own_id = getattr(p, f"{own_side}_id")
        if p.role != own_side or own_id is None:
            return False
        if kind not in self._revealed:
            self._revealed[kind] = user_repo.revealed(self.session, own_side, own_id)
        return party_id in self._revealed[kind]

    def sees_leader(self, leader_id: int) -> bool:
        return self._sees("leader", leader_id)

    def sees_sme(self, sme_id: int) -> bool:
        return self._sees("sme", sme_id)

    def _own(self, kind: str, party_id: int) -> bool:
        p = self.principal
        return p.is_staff or (p.role == kind and getattr(p, f"{kind}_id") == party_id)

    def sme(self, read: Any) -> Any:
        """An SmeRead with contacts blanked unless they are visible, its credit code its own."""
        read = read if self.sees_sme(read.id) else _hide(read)
        return read if self._own("sme", read.id) else _hide_code(read)

    def leader(self, read: Any) -> Any:
        read = read if self.sees_leader(read.id) else _hide(read)
        return read if self._own("leader", read.id) else _hide_code(read)

    def demand(self, read: Any) -> Any:
        return read if self.sees_leader(read.leader_id) else _hide(read)

    def smes(self, reads: Iterable[Any]) -> list[Any]:
        return [self.sme(r) for r in reads]

    def leaders(self, reads: Iterable[Any]) -> list[Any]:
        return [self.leader(r) for r in reads]

    def demands(self, reads: Iterable[Any]) -> list[Any]:
        return [self.demand(r) for r in reads]


def _hide_code(read: Any) -> Any:
    # The credit code is the firm's and the staff's to read: matching never needs it, and it
    # used to be the key to another firm's record (app.services.claims).
    return read.model_copy(update={"uscc": None}) if getattr(read, "uscc", None) else read


def _hide(read: Any) -> Any:
    return read.model_copy(update={**dict.fromkeys(CONTACT_FIELDS), "contact_hidden": True})
