"""The campaign's rules without I/O: validation naming each field, the segment's normal form and
its checks, the life cycle (launch → scheduled or running, complete, cancel, delete only a draft),
and what an update may change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm_campaigns.domain import campaigns as rules
from crm_campaigns.domain.campaigns import Campaign, CampaignStatus, CampaignType, MailingContent, Segment, TargetKind
from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
OWNER = "0192d6e0-0000-7000-8000-0000000000a1"


def _c(**kw: object) -> Campaign:
    base: dict[str, object] = {
        "id": "c1",
        "name": "Boletín",
        "type": CampaignType.MAILING,
        "owner_id": OWNER,
        "budget_amount": Decimal("100.005"),
        "currency_code": "USD",
        "target": Segment(kind=TargetKind.CLIENTS),
    }
    return Campaign(**{**base, **kw})  # type: ignore[arg-type]


def _fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in exc.value.violations]


def test_valid_campaign_is_normalised() -> None:
    c = rules.validated(
        _c(
            name="  Boletín ",
            target=Segment(TargetKind.CLIENTS, cities=("Cali ", "Bogotá", "Cali"), country_codes=("co",)),
        )
    )
    assert c.name == "Boletín" and c.budget_amount == Decimal("100.01")
    assert c.target.cities == ("Bogotá", "Cali") and c.target.country_codes == ("CO",)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"name": ""}, "campaign.name"),
        ({"owner_id": ""}, "campaign.owner_id"),
        ({"currency_code": "XYZ"}, "campaign.budget.currency_code"),
        ({"budget_amount": Decimal(-1)}, "campaign.budget.amount"),
        ({"start_date": date(2026, 5, 2), "end_date": date(2026, 5, 1)}, "campaign.end_date"),
        ({"target": Segment(None, cities=("Cali",))}, "campaign.target.kind"),
        ({"target": Segment(TargetKind.CLIENTS, country_codes=("Colombia",))}, "campaign.target.country_codes[0]"),
        (
            {"target": Segment(TargetKind.CLIENTS, prospect_statuses=("PROSPECT_STATUS_NEW",))},
            "campaign.target.prospect_statuses",
        ),
        (
            {"target": Segment(TargetKind.PROSPECTS, prospect_sources=("PROSPECT_SOURCE_TV",))},
            "campaign.target.prospect_sources[0]",
        ),
        ({"target": Segment(TargetKind.PROSPECTS, segment_tags=("vip",))}, "campaign.target.segment_tags"),
        ({"target": Segment(TargetKind.CLIENTS, cities=(" ",))}, "campaign.target.cities[0]"),
        ({"mailing": MailingContent(subject="Hola {{ nombre }}")}, "campaign.mailing.subject"),
        ({"mailing": MailingContent(html_body="{% if %}")}, "campaign.mailing.html_body"),
        ({"mailing": MailingContent(from_email="ventas")}, "campaign.mailing.from_email"),
        ({"type": CampaignType.TRADE_FAIR, "mailing": MailingContent(subject="x")}, "campaign.mailing"),
    ],
)
def test_invalid_campaigns_name_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        rules.validated(_c(**kw))
    assert field in _fields(exc)


def test_prospect_segment_accepts_contacts_enum_names() -> None:
    seg = Segment(
        TargetKind.PROSPECTS,
        prospect_statuses=("PROSPECT_STATUS_QUALIFIED",),
        prospect_sources=("PROSPECT_SOURCE_ADS",),
    )
    assert rules.validated(_c(target=seg)).target == seg


def test_launch_runs_now_or_schedules() -> None:
    assert rules.launched(_c(), TODAY, NOW).status is CampaignStatus.RUNNING
    later = rules.launched(_c(start_date=date(2026, 4, 1)), TODAY, NOW)
    assert later.status is CampaignStatus.SCHEDULED and later.launch_time == NOW
    assert rules.started(later, date(2026, 3, 31)).status is CampaignStatus.SCHEDULED
    assert rules.started(later, date(2026, 4, 1)).status is CampaignStatus.RUNNING


@pytest.mark.parametrize(
    "c",
    [
        _c(status=CampaignStatus.RUNNING),
        _c(target=Segment()),
        _c(end_date=date(2026, 3, 1)),
    ],
)
def test_launch_refusals(c: Campaign) -> None:
    with pytest.raises(FailedPrecondition):
        rules.launched(c, TODAY, NOW)


def test_social_ads_needs_no_target() -> None:
    assert (
        rules.launched(_c(type=CampaignType.SOCIAL_ADS, target=Segment()), TODAY, NOW).status is CampaignStatus.RUNNING
    )


def test_complete_cancel_delete() -> None:
    running = _c(status=CampaignStatus.RUNNING)
    assert rules.completed(running, NOW).status is CampaignStatus.COMPLETED
    with pytest.raises(FailedPrecondition):
        rules.completed(_c(), NOW)
    cancelled = rules.cancelled(_c(), " sin fondos ", NOW)
    assert cancelled.status is CampaignStatus.CANCELLED and cancelled.cancel_reason == "sin fondos"
    for closed in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        with pytest.raises(FailedPrecondition):
            rules.cancelled(_c(status=closed), "", NOW)
    rules.check_deletable(_c())
    with pytest.raises(FailedPrecondition):
        rules.check_deletable(running)


def test_updates() -> None:
    current = rules.validated(_c(version=3))
    after, changed = rules.updated(current, replace(current, name="Nuevo", currency_code="EUR"), ["name"], 3)
    assert after.name == "Nuevo" and after.currency_code == "USD" and changed == ["name"]
    _, changed = rules.updated(current, replace(current, budget_amount=Decimal(5), currency_code="EUR"), ["budget"], 0)
    assert changed == ["budget"]
    with pytest.raises(Conflict):
        rules.updated(current, current, ["name"], 2)
    with pytest.raises(InvalidArgument) as exc:
        rules.updated(current, current, ["status"], 0)
    assert "cannot be changed" in str(exc.value)
    running = replace(current, status=CampaignStatus.RUNNING)
    with pytest.raises(FailedPrecondition):
        rules.updated(running, replace(running, target=Segment(TargetKind.CONTACTS)), ["target"], 0)
    after, _ = rules.updated(running, replace(running, description="más"), ["description"], 0)
    assert after.description == "más"


OTHER = "0192d6e0-0000-7000-8000-0000000000b2"


def test_a_prospects_target_naming_an_owner_out_of_scope_is_refused() -> None:
    seg = Segment(kind=TargetKind.PROSPECTS, owner_ids=(OWNER, OTHER))
    with pytest.raises(InvalidArgument) as exc:
        rules.check_target_scope(seg, (OWNER,))
    assert _fields(exc) == ["campaign.target.owner_ids[1]"]
    rules.check_target_scope(seg, ())  # no scope sent: any owner
    rules.check_target_scope(seg, (OWNER, OTHER))
    # Clients and contacts are readable by everyone: never refused.
    rules.check_target_scope(replace(seg, kind=TargetKind.CLIENTS), (OWNER,))


def test_a_launch_narrows_a_prospects_segment_to_the_scope() -> None:
    everyone = Segment(kind=TargetKind.PROSPECTS)
    assert rules.scoped_segment(everyone, (OTHER, OWNER)) == replace(everyone, owner_ids=tuple(sorted((OTHER, OWNER))))
    named = Segment(kind=TargetKind.PROSPECTS, owner_ids=(OWNER, OTHER))
    assert rules.scoped_segment(named, (OWNER,)) == replace(named, owner_ids=(OWNER,))
    # Nothing left in scope is no segment at all (an empty owner filter would mean every owner).
    assert rules.scoped_segment(Segment(kind=TargetKind.PROSPECTS, owner_ids=(OTHER,)), (OWNER,)) is None
    assert rules.scoped_segment(named, ()) is named
    clients = Segment(kind=TargetKind.CLIENTS, owner_ids=(OTHER,))
    assert rules.scoped_segment(clients, (OWNER,)) is clients
