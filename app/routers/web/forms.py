"""Console form classes: a form loads from a read schema, shows as typed, posts the API's input.

A form names the fields of the record's create schema it shows (`shown`) and the ones it does
not (`unshown`; a test checks the two cover the schema). An update posts only the shown fields,
and a shown field that holds more than the form displays (a product's niche) is completed
from the stored record, so saving a form never erases what it does not show.
"""

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel
from starlette.datastructures import FormData

from app.routers.web.common import split_list
from matching import vocab


class ConsoleForm:
    """Base of the console forms; subclasses convert one record's fields both ways."""

    shown: ClassVar[frozenset[str]]
    unshown: ClassVar[frozenset[str]] = frozenset()
    # Inputs posted more than once (checkbox groups, multiple selects).
    multiple: ClassVar[tuple[str, ...]] = ()
    # The values of an empty form.
    blank: ClassVar[dict[str, Any]] = {}

    @classmethod
    def new(cls) -> dict[str, Any]:
        """An empty form (a copy: pages change it)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in cls.blank.items()}

    @classmethod
    def load(cls, record: BaseModel) -> dict[str, Any]:
        """The form's values for a stored record."""
        raise NotImplementedError

    @classmethod
    def posted(cls, data: FormData) -> dict[str, Any]:
        """The form as typed, for reading it and for showing it again."""
        form: dict[str, Any] = {k: str(v).strip() for k, v in data.items()}
        for name in cls.multiple:
            form[name] = [str(v) for v in data.getlist(name)]
        return form

    @classmethod
    def values(cls, form: dict[str, Any]) -> dict[str, Any]:
        """The API's input for the shown fields; blank boxes mean "not given"."""
        raise NotImplementedError

    @classmethod
    def create(cls, form: dict[str, Any], **fixed: Any) -> dict[str, Any]:
        """The input of a create schema (with `fixed` values such as the owner)."""
        return {**cls._checked(cls.values(form)), **fixed}

    @classmethod
    def update(cls, form: dict[str, Any], stored: BaseModel) -> dict[str, Any]:
        """The input of an update schema: the shown fields, completed from `stored`."""
        values = cls.keep(cls._checked(cls.values(form)), stored)
        values["version"] = form.get("version") or None
        return values

    @classmethod
    def keep(cls, values: dict[str, Any], stored: BaseModel) -> dict[str, Any]:
        """Complete shown fields with the parts the form does not display (default: none)."""
        return values

    @classmethod
    def _checked(cls, values: dict[str, Any]) -> dict[str, Any]:
        extra = set(values) - cls.shown
        if extra:  # a programming error: the form would write fields it does not show
            raise AssertionError(f"{cls.__name__} writes fields it does not show: {extra}")
        return values


def _text(value: Any) -> str:
    """A stored value in a text box: empty for None, numbers without a trailing .0."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _blank_is_none(form: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: form.get(name) or None for name in names}


# -- the SME profile ------------------------------------------------------------------------------


class SmeProfileForm(ConsoleForm):
    """An SME's profile (/sme/profile): everything but the chain links, kept as they are."""

    shown = frozenset(
        {
            "name",
            "uscc",
            "city",
            "county",
            "size_class",
            "tier",
            "products",
            "processes",
            "certifications",
            "invention_patents",
            "utility_patents",
            "rd_share",
            "chains",
            "leaders_supplied",
            "export",
            "description",
            "contact_name",
            "contact_phone",
            "contact_email",
        }
    )
    # Links are set by organizers and imports against the taxonomy; the form keeps them.
    unshown = frozenset({"links"})
    multiple = ("certifications", "chains")
    blank: ClassVar[dict[str, Any]] = {"certifications": [], "chains": [], "tier": "specialized"}
    OPTIONAL = ("uscc", "county", "size_class", "rd_share")
    CONTACTS = ("contact_name", "contact_phone", "contact_email")

    @classmethod
    def load(cls, record: BaseModel) -> dict[str, Any]:
        """The form of a stored profile (an SmeRead)."""
        sme: Any = record
        known = set(vocab.KNOWN_CERTIFICATIONS)
        return {
            **{name: _text(getattr(sme, name)) for name in ("name", "city", "tier", "description")},
            **{name: _text(getattr(sme, name)) for name in cls.OPTIONAL + cls.CONTACTS},
            # "name|capacity", as typed; niche and market share are kept (see keep).
            "products": "\n".join(
                f"{p.name}|{p.capacity}" if p.capacity else p.name for p in sme.products
            ),
            "processes": "\n".join(sme.processes),
            "certifications": [c for c in sme.certifications if c in known],
            "certifications_other": "、".join(c for c in sme.certifications if c not in known),
            "invention_patents": str(sme.invention_patents),
            "utility_patents": str(sme.utility_patents),
            "chains": list(sme.chains),
            "leaders_supplied": "\n".join(sme.leaders_supplied),
            "export": sme.export,
            "version": str(sme.version),
        }

    @classmethod
    def posted(cls, data: FormData) -> dict[str, Any]:
        form = super().posted(data)
        form["export"] = bool(form.get("export"))
        return form

    @classmethod
    def values(cls, form: dict[str, Any]) -> dict[str, Any]:
        certs = list(form.get("certifications") or []) + split_list(
            form.get("certifications_other")
        )
        return {
            "name": form.get("name", ""),
            "city": form.get("city", ""),
            "tier": form.get("tier", ""),
            **_blank_is_none(form, cls.OPTIONAL + cls.CONTACTS),
            "products": [
                _product(x) for x in (form.get("products") or "").splitlines() if x.strip()
            ],
            "processes": split_list(form.get("processes")),
            "certifications": list(dict.fromkeys(certs)),
            "invention_patents": form.get("invention_patents") or 0,
            "utility_patents": form.get("utility_patents") or 0,
            "chains": list(form.get("chains") or []),
            "leaders_supplied": split_list(form.get("leaders_supplied")),
            "export": bool(form.get("export")),
            "description": form.get("description", ""),
        }

    @classmethod
    def keep(cls, values: dict[str, Any], stored: BaseModel) -> dict[str, Any]:
        """A product keeps the niche and market share of the stored product of its name."""
        by_name: dict[str, list[Any]] = {}
        for product in getattr(stored, "products", []):
            by_name.setdefault(product.name, []).append(product)
        products: list[dict[str, Any]] = []
        for typed in values["products"]:
            item: dict[str, Any] = {"name": typed} if isinstance(typed, str) else dict(typed)
            same = by_name.get(item["name"])
            if same:
                old = same.pop(0)
                item.setdefault("niche", old.niche)
                item.setdefault("market_share", old.market_share)
            products.append(item)
        return {**values, "products": products}


def _product(line: str) -> dict[str, str] | str:
    # "产品名|产能": the part after the bar is the annual capacity.
    name, _, capacity = line.partition("|")
    if not capacity.strip():
        return name.strip()
    return {"name": name.strip(), "capacity": capacity.strip()}


# -- a leader's need ------------------------------------------------------------------------------


def budget_text(budget: Any) -> str:
    """A stored budget as typed in the form (and read back by the schema)."""
    if budget is None:
        return ""
    if budget.negotiable:
        return "面议"
    if budget.min is not None and budget.max is not None:
        return f"{budget.min:g}" if budget.min == budget.max else f"{budget.min:g}-{budget.max:g}"
    if budget.min is not None:
        return f"{budget.min:g}以上"
    return f"{budget.max:g}以内" if budget.max is not None else ""


class DemandForm(ConsoleForm):
    """A leader's need (/leader/needs/new and …/edit); the leader is the signed-in one's."""

    shown = frozenset(
        {
            "title",
            "description",
            "chain",
            "link",
            "demand_type",
            "keywords",
            "specification",
            "material_process",
            "quantity",
            "unit",
            "budget",
            "required_certifications",
            "region_preference",
            "min_tier",
            "lead_time_days",
            "valid_until",
            "status",
            "contact_name",
            "contact_phone",
            "contact_email",
        }
    )
    # The owner comes from the account, never from the form.
    unshown = frozenset({"leader_id"})
    multiple = ("region_cities",)
    blank: ClassVar[dict[str, Any]] = {
        "certs": [],
        "region_scope": "province",
        "region_cities": [],
        "status": "published",
    }
    OPTIONAL = (
        "chain",
        "link",
        "specification",
        "material_process",
        "quantity",
        "unit",
        "budget",
        "min_tier",
        "lead_time_days",
        "valid_until",
        "contact_name",
        "contact_phone",
        "contact_email",
    )

    @classmethod
    def load(cls, record: BaseModel) -> dict[str, Any]:
        """The form of a stored need (a DemandRead)."""
        demand: Any = record
        return {
            "title": demand.title,
            "description": demand.description,
            "demand_type": demand.demand_type,
            "status": demand.status,
            **{name: _text(getattr(demand, name)) for name in cls.OPTIONAL},
            "keywords": "、".join(demand.keywords),
            "budget": budget_text(demand.budget),
            "valid_until": demand.valid_until.isoformat() if demand.valid_until else "",
            "certs": [
                (c["name"], bool(c.get("must", True))) for c in demand.required_certifications
            ],
            "region_scope": demand.region_preference.scope,
            "region_cities": list(demand.region_preference.cities),
            "version": str(demand.version),
        }

    @classmethod
    def posted(cls, data: FormData) -> dict[str, Any]:
        """Certificate rows are posted as cert_name_N with an optional cert_must_N."""
        form = super().posted(data)
        rows = sorted(
            int(k.removeprefix("cert_name_"))
            for k in form
            if k.startswith("cert_name_") and k.removeprefix("cert_name_").isdigit()
        )
        form["certs"] = [
            (form[f"cert_name_{i}"], f"cert_must_{i}" in form)
            for i in rows
            if form[f"cert_name_{i}"]
        ]
        return form

    @classmethod
    def values(cls, form: dict[str, Any]) -> dict[str, Any]:
        scope = form.get("region_scope") or "any"
        cities = list(form.get("region_cities") or []) if scope == "cities" else []
        return {
            "title": form.get("title", ""),
            "description": form.get("description", ""),
            "demand_type": form.get("demand_type", ""),
            "status": form.get("status") or "published",
            **_blank_is_none(form, cls.OPTIONAL),
            "keywords": split_list(form.get("keywords")),
            "required_certifications": [
                {"name": n, "must": must} for n, must in form.get("certs") or []
            ],
            "region_preference": {"scope": scope, "cities": cities},
        }


# -- a docking event ------------------------------------------------------------------------------

# Dashes people type between two times: 12:00-13:30, 12:00－13:30, 12:00~13:30, 12:00至13:30.
_DASHES = re.compile(r"\s*[-－–—~～至]\s*")


def _parse_breaks(text: str) -> list[dict[str, str]]:
    """Breaks typed as "12:00-13:30 午餐, 15:00-15:15"; the schema judges each time."""
    out = []
    for part in split_list(text):
        times, _, title = part.partition(" ")
        start, _, end = _DASHES.sub("-", times.strip(), count=1).partition("-")
        item = {"start": start.strip(), "end": end.strip()}
        if title.strip():
            item["title"] = title.strip()
        out.append(item)
    return out


def _breaks_text(breaks: list[dict]) -> str:
    # The default title (休息) is not typed back.
    parts = []
    for b in breaks:
        title = b.get("title")
        parts.append(
            f"{b['start']}-{b['end']}" + (f" {title}" if title not in (None, "", "休息") else "")
        )
    return "，".join(parts)


class EventForm(ConsoleForm):
    """An event's basics (/organizer/events and the plan page's basics form)."""

    SCALARS = (
        "title",
        "date",
        "venue",
        "organizer",
        "start_time",
        "meeting_minutes",
        "gap_minutes",
        "slot_count",
        "tables",
    )
    shown = frozenset({*SCALARS, "chains", "breaks", "leader_fixed_table", "notes", "status"})
    multiple = ("chains",)
    blank: ClassVar[dict[str, Any]] = {
        "start_time": "09:00",
        "meeting_minutes": "20",
        "gap_minutes": "5",
        "slot_count": "12",
        "tables": "10",
        "breaks": "12:00-13:30",
        "chains": [],
        "leader_fixed_table": True,
    }

    @classmethod
    def load(cls, record: BaseModel) -> dict[str, Any]:
        """The form of a stored event (an EventRead)."""
        event: Any = record
        return {
            **{name: _text(getattr(event, name)) for name in cls.SCALARS},
            "breaks": _breaks_text(event.breaks),
            "chains": list(event.chains),
            "leader_fixed_table": event.leader_fixed_table,
            "status": event.status,
            "notes": event.notes,
            "version": str(event.version),
        }

    @classmethod
    def posted(cls, data: FormData) -> dict[str, Any]:
        form = super().posted(data)
        form["chains"] = [c for c in form["chains"] if c]
        form["leader_fixed_table"] = bool(form.get("leader_fixed_table"))
        return form

    @classmethod
    def values(cls, form: dict[str, Any]) -> dict[str, Any]:
        # Empty boxes are left out so the schema's defaults apply (or, for required ones, it
        # says so); a new event has no status or notes box.
        values: dict[str, Any] = {k: form[k] for k in cls.SCALARS if form.get(k, "").strip()}
        values |= {
            "chains": list(form.get("chains") or []),
            "breaks": _parse_breaks(form.get("breaks", "")),
            "leader_fixed_table": bool(form.get("leader_fixed_table")),
        }
        for name in ("status", "notes"):
            if name in form:
                values[name] = form[name]
        return values
