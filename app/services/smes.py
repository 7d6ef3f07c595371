"""SME profiles: create (one or in bulk), read, update, soft delete and restore."""

from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import Conflict, FieldError, InvalidInput, NotFound
from app.repositories import claims as claim_repo
from app.repositories import enterprises as enterprise_repo
from app.repositories import leaders as leader_repo
from app.repositories import smes as repo
from app.schemas.common import Page
from app.schemas.sme import SmeCreate, SmeRead, SmeUpdate
from app.services import access, auth
from app.services.auth import Principal
from app.services.common import check_version, refuse_nulls, search_text, validate_rows
from app.services.leaders import ensure_name_free
from app.services.matching import MatchingRuntime
from app.services.taxonomy import CodeBook
from matching import vocab
from models import Enterprise, SmeCertification, SmeProduct, SmeProfile, utcnow

ENTERPRISE_FIELDS = ("name", "uscc", "city", "county", "size_class")
# Fields kept in their own rows (products, certificates) or resolved to taxonomy records.
RELATED_FIELDS = ("products", "certifications", "chains", "links")
# Every other field of the schema is a column of the same name on the profile: derived, so a
# field added to SmeCreate (and to the model) is stored without another list to update.
PROFILE_FIELDS = tuple(
    name for name in SmeCreate.model_fields if name not in ENTERPRISE_FIELDS + RELATED_FIELDS
)
NOT_NULL = ("name", "city", "tier", "products", "invention_patents", "utility_patents", "export")


def _not_found(sme_id: int) -> NotFound:
    return NotFound(f"SME profile {sme_id} not found", f"中小企业档案 {sme_id} 不存在")


def _uscc_taken(code: str) -> tuple[str, str]:
    return (
        f"credit code {code} already has an SME profile",
        f"统一社会信用代码 {code} 已登记中小企业档案",
    )


def _refresh_search_text(sme: SmeProfile) -> None:
    sme.search_text = search_text(
        sme.enterprise.name,
        [p.name for p in sme.products],
        [p.niche for p in sme.products],
        sme.processes,
        [c.name for c in sme.certifications],
        sme.description,
        sme.leaders_supplied,
    )


def _apply(sme: SmeProfile, data: SmeCreate | SmeUpdate, fields: set[str], refs: dict) -> None:
    for name in PROFILE_FIELDS:
        if name in fields:
            value = getattr(data, name)
            setattr(sme, name, str(value) if isinstance(value, vocab.StrEnum) else value)
    for name in ENTERPRISE_FIELDS:
        if name in fields and name != "uscc":
            value = getattr(data, name)
            setattr(sme.enterprise, name, str(value) if value is not None else None)
    if "products" in fields:
        sme.products = [
            SmeProduct(position=i, **p.model_dump()) for i, p in enumerate(data.products or [])
        ]
    if "certifications" in fields:
        sme.certifications = [
            SmeCertification(position=i, name=c) for i, c in enumerate(data.certifications or [])
        ]
    if "chains" in refs:
        sme.chains = refs["chains"]
    if "links" in refs:
        sme.links = refs["links"]
    _refresh_search_text(sme)


def _resolve_refs(
    book: CodeBook,
    data: SmeCreate | SmeUpdate,
    fields: set[str],
    errors: list[FieldError],
    prefix: tuple,
    row: int | None = None,
) -> dict[str, list]:
    """Chains and links named in the input; a declared link implies its chain."""
    refs: dict[str, list] = {}
    if "links" in fields:
        refs["links"] = book.link_list(data.links or [], (*prefix, "links"), errors, row)
    if "chains" in fields or "links" in fields:
        chains = book.chain_list(data.chains or [], (*prefix, "chains"), errors, row)
        if "chains" not in fields:
            return refs  # update of links only: chains added below by the caller
        for link in refs.get("links", []):
            if link.chain not in chains:
                chains.append(link.chain)
        refs["chains"] = chains
    return refs


def _guard_leader_names(session: Session, renames: list[tuple[Enterprise, str]]) -> None:
    """A firm that is also a chain leader keeps the leaders' rule: no other leader's name.

    The enterprise record is shared, so renaming the SME renames the leader, and a leader under
    a competitor's name would receive that competitor's imported needs (app.services.leaders).
    """
    renames = [(e, n) for e, n in renames if e.id is not None and n and n != e.name]
    leaders = leader_repo.live_by_enterprise(session, [e.id for e, _ in renames])
    for enterprise, name in renames:
        if enterprise.id in leaders:
            ensure_name_free(session, name, leaders[enterprise.id])


def _new_profile(data: SmeCreate, enterprise: Enterprise | None) -> SmeProfile:
    if enterprise is None:
        enterprise = Enterprise(name=data.name, uscc=data.uscc, city=data.city)
    sme = SmeProfile(enterprise=enterprise, products=[], certifications=[])
    return sme


def _claim_first(code: str) -> Conflict:
    return Conflict(
        f"credit code {code} is already on record; if it is your firm, file a claim "
        "(POST /api/v1/claims) and an organizer will check it and bind your account",
        f"统一社会信用代码 {code} 已有登记记录，不能直接绑定。如为贵企业，请提交认领申请"
        "（控制台“认领企业”或 POST /api/v1/claims），组织方核实后为您绑定",
        field="uscc",
    )


def create(
    session: Session,
    principal: Principal,
    data: SmeCreate,
    index: MatchingRuntime | None = None,
) -> SmeRead:
    """Register one SME profile; an SME account registering its own becomes bound to it.

    Staff register any firm; an SME account its own, once. A firm already on record is never
    bound by its credit code alone: staff may add its SME profile; a self-service account only
    after an organizer approved its claim (app.services.claims), since the code is printed on
    every licence and would let anyone take the record.
    """
    access.ensure_can_create_sme(principal)
    book = CodeBook.load(session)
    errors: list[FieldError] = []
    fields = set(SmeCreate.model_fields)
    refs = _resolve_refs(book, data, fields, errors, ("body",))
    if errors:
        raise InvalidInput(errors)
    enterprise = None
    if data.uscc:
        enterprise = enterprise_repo.by_uscc(session, [data.uscc]).get(data.uscc)
        if enterprise and repo.active_for_enterprises(session, [enterprise.id]):
            raise Conflict(*_uscc_taken(data.uscc), field="uscc")
        claimed = (
            enterprise is None
            or principal.is_staff
            or (
                principal.user_id is not None
                and claim_repo.find(session, principal.user_id, enterprise.id, "approved")
            )
        )
        if not claimed:
            raise _claim_first(data.uscc)
        if enterprise is not None:
            _guard_leader_names(session, [(enterprise, data.name)])
    sme = _new_profile(data, enterprise)
    session.add(sme)
    _apply(sme, data, fields, refs)
    if index:
        index.record_sme(session, sme)
    session.flush()
    if principal.role == "sme" and principal.user_id is not None:
        auth.bind_sme(session, principal.user_id, sme.id)
    return SmeRead.from_model(sme)


def bulk_create(
    session: Session,
    rows: list[Any],
    settings: Settings,
    index: MatchingRuntime | None = None,
) -> list[int]:
    """Register many profiles, all or nothing; every bad row is reported.

    Their vectors are queued: the encoding worker computes them after the commit.
    """
    return bulk_upsert(session, rows, settings, index, upsert=False)[0]


def bulk_upsert(
    session: Session,
    rows: list[Any],
    settings: Settings,
    index: MatchingRuntime | None = None,
    upsert: bool = True,
    row_numbers: list[int] | None = None,
) -> tuple[list[int], int]:
    """Like bulk_create; with `upsert`, a row whose credit code has a profile updates it.

    `row_numbers` are the rows as their user numbers them (a sheet's), for the messages that
    name another row. Returns the ids in input order and how many rows were updates.
    """
    parsed, errors = validate_rows(rows, SmeCreate, settings.max_bulk_rows)
    book = CodeBook.load(session)
    fields = set(SmeCreate.model_fields)
    codes = [d.uscc for d in parsed if d and d.uscc]
    known = enterprise_repo.by_uscc(session, codes)
    live = repo.live_by_enterprise(session, [e.id for e in known.values()])

    def existing(data: SmeCreate | None) -> SmeProfile | None:
        ent = known.get(data.uscc) if data and data.uscc else None
        return live.get(ent.id) if ent is not None else None

    refs_by_row: list[dict] = []
    first_row: dict[str, int] = {}
    for i, data in enumerate(parsed):
        if data is None:
            refs_by_row.append({})
            continue
        # An update touches only the columns the row carries.
        row_fields = data.model_fields_set if upsert and existing(data) else fields
        refs_by_row.append(_resolve_refs(book, data, row_fields, errors, ("body", i), row=i))
        if not data.uscc:
            continue
        if data.uscc in first_row:
            first = first_row[data.uscc]
            number = row_numbers[first] if row_numbers else first
            errors.append(
                FieldError(
                    loc=("body", i, "uscc"),
                    msg=f"duplicate credit code, same as row {number}",
                    msg_zh=f"统一社会信用代码与第 {number} 行重复",
                    row=i,
                )
            )
        first_row.setdefault(data.uscc, i)
        if existing(data) is not None and not upsert:
            en, zh = _uscc_taken(data.uscc)
            errors.append(FieldError(loc=("body", i, "uscc"), msg=en, msg_zh=zh, row=i))
    if errors:
        errors.sort(key=lambda e: e.row if e.row is not None else -1)
        raise InvalidInput(errors)
    _guard_leader_names(
        session,
        [
            (known[d.uscc], d.name)
            for d in parsed
            if d.uscc in known and (not upsert or "name" in d.model_fields_set)
        ],
    )
    profiles, updated = [], 0
    for data, refs in zip(parsed, refs_by_row, strict=True):
        sme = existing(data)
        if sme is None:
            sme = _new_profile(data, known.get(data.uscc) if data.uscc else None)
            session.add(sme)
            _apply(sme, data, fields, refs)
        else:
            if "links" in refs and "chains" not in refs:
                chains = list(sme.chains)
                refs["chains"] = chains + [x.chain for x in refs["links"] if x.chain not in chains]
            _apply(sme, data, data.model_fields_set, refs)
            sme.updated_at = utcnow()
            updated += 1
        profiles.append(sme)
    if index:
        index.queue_smes(session, profiles)
    session.flush()
    return [p.id for p in profiles], updated


def get(session: Session, sme_id: int) -> SmeRead:
    """One live profile."""
    sme = repo.get(session, sme_id)
    if sme is None:
        raise _not_found(sme_id)
    return SmeRead.from_model(sme)


def list_page(session: Session, filters: repo.SmeFilters, limit: int, offset: int) -> Page[SmeRead]:
    """A filtered page of profiles."""
    book_version = CodeBook.load(session).version.id
    rows, total = repo.list_page(session, filters, book_version, limit, offset)
    return Page[SmeRead](
        items=[SmeRead.from_model(r) for r in rows], total=total, limit=limit, offset=offset
    )


def update(
    session: Session,
    principal: Principal,
    sme_id: int,
    data: SmeUpdate,
    if_match: int | None = None,
    index: MatchingRuntime | None = None,
) -> SmeRead:
    """Change the fields given (the SME itself or an admin); refuse edits of an older version."""
    access.ensure_sme_editor(principal, sme_id)
    sme = repo.get(session, sme_id)
    if sme is None:
        raise _not_found(sme_id)
    check_version(sme.version, data.version if data.version is not None else if_match)
    refuse_nulls(data, NOT_NULL)
    fields = data.model_fields_set - {"version"}
    errors: list[FieldError] = []
    refs = _resolve_refs(CodeBook.load(session), data, fields, errors, ("body",))
    if errors:
        raise InvalidInput(errors)
    if "links" in refs and "chains" not in refs:
        chains = list(sme.chains)
        chains += [link.chain for link in refs["links"] if link.chain not in chains]
        refs["chains"] = chains
    if "uscc" in fields and data.uscc != sme.enterprise.uscc:
        if data.uscc and enterprise_repo.by_uscc(session, [data.uscc]):
            raise Conflict(
                f"credit code {data.uscc} belongs to another enterprise",
                f"统一社会信用代码 {data.uscc} 已属于其他企业",
                field="uscc",
            )
        sme.enterprise.uscc = data.uscc
    if "name" in fields:
        _guard_leader_names(session, [(sme.enterprise, data.name)])
    _apply(sme, data, fields, refs)
    # Touch the profile so enterprise-only edits also bump its version.
    sme.updated_at = utcnow()
    if index:
        index.record_sme(session, sme)
    session.flush()
    return SmeRead.from_model(sme)


def delete(
    session: Session,
    principal: Principal,
    sme_id: int,
    if_match: int | None = None,
    index: MatchingRuntime | None = None,
) -> None:
    """Soft-delete a profile (the SME itself or an admin); it can be restored."""
    access.ensure_sme_editor(principal, sme_id)
    sme = repo.get(session, sme_id)
    if sme is None:
        raise _not_found(sme_id)
    check_version(sme.version, if_match)
    sme.deleted_at = utcnow()
    session.flush()
    if index:
        index.record_deleted(session, "sme", sme.id)


def restore(
    session: Session, principal: Principal, sme_id: int, index: MatchingRuntime | None = None
) -> SmeRead:
    """Undo a soft delete (the SME itself or an admin)."""
    access.ensure_sme_editor(principal, sme_id)
    return undelete(session, sme_id, index)


def undelete(session: Session, sme_id: int, index: MatchingRuntime | None = None) -> SmeRead:
    """Undo a soft delete within a use case that checked access itself (an approved claim)."""
    sme = repo.get(session, sme_id, include_deleted=True)
    if sme is None:
        raise _not_found(sme_id)
    if sme.deleted_at is not None:
        if repo.active_for_enterprises(session, [sme.enterprise_id]):
            raise Conflict(*_uscc_taken(sme.enterprise.uscc or ""), field="uscc")
        sme.deleted_at = None
        session.flush()
        if index:
            index.record_sme(session, sme)
    return SmeRead.from_model(sme)
