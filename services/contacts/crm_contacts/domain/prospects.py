"""Prospect (Prospecto) rules: what a valid prospect is, how its fields are normalised, its status
machine (new → contacted → qualified; any open status → disqualified, with a reason; disqualified →
new), and what an update or a delete may do. Pure Python: no ORM, no protobuf, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from crm_contacts.domain.common import (
    NAME_MAX,
    TEXT_MAX,
    Address,
    ContactsFields,
    check_length,
    check_owner_id,
    normalise_email,
    normalise_phones,
    normalised_address,
    normalised_tax_id,
)
from crm_contacts.domain.search import search_text
from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_platform.ids import is_valid_id
from crm_platform.versioning import check_version


class ProspectStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


class ProspectSource(StrEnum):
    WEB = "web"
    REFERRAL = "referral"
    CAMPAIGN = "campaign"
    TRADE_FAIR = "trade_fair"
    ADS = "ads"
    RD_STATION = "rd_station"
    IMPORT = "import"


# Sources that come from a campaign of the campaigns service, which a prospect may name.
CAMPAIGN_SOURCES = frozenset(
    {ProspectSource.CAMPAIGN, ProspectSource.TRADE_FAIR, ProspectSource.ADS, ProspectSource.RD_STATION}
)

# The moves an update may make. CONVERTED is reached only by converting the prospect, and a
# converted prospect does not change any more.
TRANSITIONS: dict[ProspectStatus, frozenset[ProspectStatus]] = {
    ProspectStatus.NEW: frozenset({ProspectStatus.CONTACTED, ProspectStatus.DISQUALIFIED}),
    ProspectStatus.CONTACTED: frozenset({ProspectStatus.QUALIFIED, ProspectStatus.DISQUALIFIED}),
    ProspectStatus.QUALIFIED: frozenset({ProspectStatus.DISQUALIFIED}),
    ProspectStatus.DISQUALIFIED: frozenset({ProspectStatus.NEW}),
    ProspectStatus.CONVERTED: frozenset(),
}

UPDATABLE = ContactsFields(
    fields=(
        "company_name",
        "first_name",
        "last_name",
        "job_title",
        "email",
        "phones",
        "tax_id",
        "industry",
        "address",
        "source",
        "source_campaign_id",
        "status",
        "disqualified_reason",
        "owner_id",
    ),
    immutable=frozenset(
        {
            "id",
            "converted_client_id",
            "converted_contact_id",
            "converted_deal_id",
            # archived has its own call (ArchiveProspect).
            "archived",
            "create_time",
            "update_time",
            "version",
        }
    ),
)


@dataclass(frozen=True)
class Prospect:
    id: str
    owner_id: str
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    job_title: str = ""
    email: str = ""
    phones: tuple[str, ...] = ()
    tax_country: str = ""
    tax_id: str = ""
    industry: str = ""
    address: Address = field(default_factory=Address)
    # None: not said.
    source: ProspectSource | None = None
    source_campaign_id: str = ""
    # None only in a draft that did not say (a new prospect starts NEW).
    status: ProspectStatus | None = ProspectStatus.NEW
    disqualified_reason: str = ""
    converted_client_id: str = ""
    converted_contact_id: str = ""
    converted_deal_id: str = ""
    # Whether the conversion created the client (rather than reusing one): its first answer.
    converted_client_created: bool = False
    archived: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def search_text(self) -> str:
        """What a list's text query matches (case-insensitively): names, company and e-mail."""
        return search_text(self.company_name, self.first_name, self.last_name, self.email)


def validated(prospect: Prospect) -> Prospect:
    """The prospect with normalised fields, or InvalidArgument naming every bad field."""
    problems: list[FieldViolation] = []
    names = {n: getattr(prospect, n).strip() for n in ("company_name", "first_name", "last_name")}
    if not any(names.values()):
        problems.append(FieldViolation("company_name", "a company name or a person's first or last name is required"))
    for name, value in names.items():
        check_length(value, name, NAME_MAX, problems)
    check_owner_id(prospect.owner_id, problems)
    for name in ("job_title", "industry", "disqualified_reason"):
        check_length(getattr(prospect, name).strip(), name, TEXT_MAX, problems)
    address = normalised_address(prospect.address, problems)
    tax_country, tax_id = normalised_tax_id(prospect.tax_country, prospect.tax_id, address.country_code, problems)
    email = normalise_email(prospect.email, "email", problems)
    phones = normalise_phones(prospect.phones, address.country_code, problems)
    campaign_id = prospect.source_campaign_id.strip()
    if campaign_id and prospect.source not in CAMPAIGN_SOURCES:
        problems.append(
            FieldViolation(
                "source_campaign_id", "only a prospect from a campaign, trade fair, ads or RD Station has one"
            )
        )
    elif campaign_id and not is_valid_id(campaign_id):
        problems.append(FieldViolation("source_campaign_id", f"'{campaign_id}' is not a campaign id"))
    reason = prospect.disqualified_reason.strip()
    if prospect.status is None:
        problems.append(FieldViolation("status", "is required"))
    elif prospect.status == ProspectStatus.DISQUALIFIED and not reason:
        problems.append(FieldViolation("disqualified_reason", "is required to disqualify a prospect"))
    elif prospect.status != ProspectStatus.DISQUALIFIED and reason:
        problems.append(FieldViolation("disqualified_reason", "only a disqualified prospect has one"))
    if problems:
        raise InvalidArgument(problems)
    return replace(
        prospect,
        **names,
        job_title=prospect.job_title.strip(),
        industry=prospect.industry.strip(),
        address=address,
        tax_country=tax_country,
        tax_id=tax_id,
        email=email,
        phones=phones,
        source_campaign_id=campaign_id,
        disqualified_reason=reason,
    )


def new_prospect(draft: Prospect, prospect_id: str, now: datetime) -> Prospect:
    """A prospect as it is first stored: status NEW, version 1, nothing converted yet."""
    if draft.status not in (None, ProspectStatus.NEW):
        raise InvalidArgument.field("status", "a new prospect starts as new; change it later with an update")
    return validated(
        replace(
            draft,
            id=prospect_id,
            status=ProspectStatus.NEW,
            converted_client_id="",
            converted_contact_id="",
            converted_deal_id="",
            converted_client_created=False,
            archived=False,
            created_at=now,
            updated_at=now,
            version=1,
        )
    )


def check_transition(current: ProspectStatus, target: ProspectStatus) -> None:
    """FailedPrecondition unless an update may move a prospect from `current` to `target`."""
    if target == current or target in TRANSITIONS[current]:
        return
    if target == ProspectStatus.CONVERTED:
        detail = "only converting the prospect makes it converted"
    else:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        detail = f"from {current} it may move to: {allowed}"
    raise FailedPrecondition(
        f"a prospect cannot move from {current} to {target}: {detail}",
        reason="invalid_status_transition",
        metadata={"from": current.value, "to": target.value},
    )


def check_changeable(prospect: Prospect) -> None:
    """A converted prospect is a record of the conversion: it is neither updated nor deleted."""
    if prospect.status == ProspectStatus.CONVERTED:
        raise FailedPrecondition(
            f"prospect '{prospect.id}' is converted and cannot change",
            reason="prospect_converted",
            metadata={"prospect_id": prospect.id, "client_id": prospect.converted_client_id},
        )


def updated(
    current: Prospect, draft: Prospect, mask: Sequence[str], expected_version: int = 0
) -> tuple[Prospect, list[str]]:
    """The prospect with the fields named in `mask` taken from `draft`, validated and normalised
    as on create, and the names of the fields whose stored value changes. A status change must
    be a move of the status machine; reopening a disqualified prospect clears its reason unless
    the update sets one (which it may not). A non-zero `expected_version` other than the stored
    one is a Conflict. Version and update time are the caller's to bump."""
    paths = UPDATABLE.check(mask)
    check_version("prospect", current.id, current.version, expected_version)
    check_changeable(current)
    after = UPDATABLE.apply(current, draft, paths)
    if "status" in paths and draft.status is not None and current.status is not None:
        check_transition(current.status, draft.status)
        reopened = current.status == ProspectStatus.DISQUALIFIED and draft.status != ProspectStatus.DISQUALIFIED
        if reopened and "disqualified_reason" not in paths:
            after = replace(after, disqualified_reason="")
    after = validated(after)
    return after, UPDATABLE.changed(current, after)
