"""Activity rules, without I/O: what a valid activity is (each bad field named), scheduling versus
logging one already done, the client a deal or contact implies and the mismatches refused, what an
update may change, completing and cancelling (with the retried call that changes nothing), and
what the overdue and upcoming filters mean against a fixed now."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm_deals.domain.activities import (
    CLOCK_SKEW,
    Activity,
    ActivityKind,
    ActivityStatus,
    DueFilter,
    DueWindow,
    archived_link,
    cancelled,
    checked_mask,
    completed,
    due_window,
    linked,
    missing_link,
    needle,
    new_activity,
    new_links,
    relinked,
    updated,
)
from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument
from crm_platform.listing import owner_filter

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
TOMORROW = NOW + timedelta(days=1)
YESTERDAY = NOW - timedelta(days=1)
CLIENT = "0190f0e0-0000-7000-8000-00000000c001"
OTHER_CLIENT = "0190f0e0-0000-7000-8000-00000000c002"
DEAL = "0190f0e0-0000-7000-8000-00000000d001"
CONTACT = "0190f0e0-0000-7000-8000-00000000e001"
PROSPECT = "0190f0e0-0000-7000-8000-00000000f001"
CAMPAIGN = "0190f0e0-0000-7000-8000-00000000a001"
S = ActivityStatus


def _draft(**overrides: object) -> Activity:
    base: dict[str, object] = {
        "id": "",
        "owner_id": "u1",
        "kind": ActivityKind.CALL,
        "subject": "Llamar para cotizar",
        "due_time": TOMORROW,
        "client_id": CLIENT,
        "status": None,
    }
    base.update(overrides)
    return Activity(**base)  # type: ignore[arg-type]


def _scheduled(**overrides: object) -> Activity:
    return new_activity(_draft(**overrides), "a-1", NOW)


def _fields(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in exc.value.violations]


def test_a_new_activity_is_scheduled_trimmed_and_sorted_by_its_due_time() -> None:
    a = _scheduled(subject="  Llamar a Ñandú ", notes=" Pedir\nla cotización ", duration_seconds=900)
    assert (a.id, a.status, a.version, a.created_at, a.updated_at) == ("a-1", S.SCHEDULED, 1, NOW, NOW)
    assert (a.subject, a.notes, a.done_time, a.outcome) == ("Llamar a Ñandú", "Pedir\nla cotización", None, "")
    assert a.sort_time == TOMORROW
    assert a.search_text == "llamar a ñandú\npedir\nla cotización"
    assert _scheduled(status=S.SCHEDULED).status == S.SCHEDULED


def test_an_activity_logged_done_is_done_now_unless_told_and_sorts_by_its_done_time() -> None:
    now_done = _scheduled(status=S.DONE, due_time=None, outcome=" pidió cotización ")
    assert (now_done.status, now_done.done_time, now_done.outcome) == (S.DONE, NOW, "pidió cotización")
    assert now_done.sort_time == NOW  # no due time: its done time places it
    earlier = _scheduled(status=S.DONE, due_time=None, done_time=YESTERDAY)
    assert earlier.done_time == YESTERDAY and earlier.sort_time == YESTERDAY
    planned = _scheduled(status=S.DONE, due_time=YESTERDAY - timedelta(hours=2), done_time=YESTERDAY)
    assert planned.sort_time == YESTERDAY - timedelta(hours=2)  # a due time, when given, places it
    # A caller's clock a little ahead is tolerated; a done time in the future is not.
    assert _scheduled(status=S.DONE, done_time=NOW + CLOCK_SKEW).done_time == NOW + CLOCK_SKEW
    with pytest.raises(InvalidArgument) as err:
        _scheduled(status=S.DONE, done_time=NOW + CLOCK_SKEW + timedelta(seconds=1))
    assert _fields(err) == ["done_time"]


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"subject": "  "}, ["subject"]),
        ({"subject": "x" * 201}, ["subject"]),
        ({"notes": "x" * 5001}, ["notes"]),
        ({"kind": None}, ["kind"]),
        ({"owner_id": ""}, ["owner_id"]),
        ({"owner_id": "u" * 37}, ["owner_id"]),
        ({"duration_seconds": -1}, ["duration_seconds"]),
        ({"duration_seconds": 31 * 24 * 3600 + 1}, ["duration_seconds"]),
        ({"deal_id": "not-an-id"}, ["deal_id"]),
        ({"contact_id": "c1"}, ["contact_id"]),
        ({"campaign_id": "camp"}, ["campaign_id"]),
        ({"client_id": ""}, ["deal_id", "client_id", "contact_id", "prospect_id"]),
        ({"due_time": None}, ["due_time"]),
        ({"done_time": YESTERDAY}, ["done_time"]),
        ({"outcome": "ya hecho"}, ["outcome"]),
        ({"cancel_reason": "por si acaso"}, ["cancel_reason"]),
        ({"status": S.CANCELLED, "cancel_reason": "no"}, ["status"]),
        ({"status": S.DONE, "outcome": "x" * 1001}, ["outcome"]),
        ({"subject": "", "owner_id": "", "kind": None}, ["kind", "subject", "owner_id"]),
    ],
)
def test_bad_input_is_refused_naming_each_field(overrides: dict[str, object], fields: list[str]) -> None:
    with pytest.raises(InvalidArgument) as err:
        _scheduled(**overrides)
    assert _fields(err) == fields


def test_any_one_of_deal_client_contact_or_prospect_is_enough() -> None:
    for field, value in (("deal_id", DEAL), ("contact_id", CONTACT), ("prospect_id", PROSPECT)):
        made = _scheduled(client_id="", **{field: f" {value} "})
        assert getattr(made, field) == value and made.client_id == ""
    assert _scheduled(campaign_id=CAMPAIGN).campaign_id == CAMPAIGN


def test_a_deal_or_contact_gives_its_client_and_must_agree_with_the_activity_s() -> None:
    by_deal = linked(_scheduled(client_id="", deal_id=DEAL), CLIENT, None)
    assert by_deal.client_id == CLIENT
    by_contact = linked(_scheduled(client_id="", contact_id=CONTACT), None, CLIENT)
    assert by_contact.client_id == CLIENT
    both = _scheduled(deal_id=DEAL, contact_id=CONTACT)
    assert linked(both, CLIENT, CLIENT) == both
    with pytest.raises(FailedPrecondition) as deal_err:
        linked(_scheduled(client_id=OTHER_CLIENT, deal_id=DEAL), CLIENT, None)
    assert deal_err.value.reason == "deal_of_another_client" and deal_err.value.metadata["field"] == "deal_id"
    with pytest.raises(FailedPrecondition) as contact_err:
        # The deal gives the client; the contact is of another one.
        linked(_scheduled(client_id="", deal_id=DEAL, contact_id=CONTACT), CLIENT, OTHER_CLIENT)
    assert contact_err.value.reason == "contact_of_another_client"
    assert contact_err.value.metadata == {"field": "contact_id", "contact_id": CONTACT, "client_id": CLIENT}
    prospect_only = _scheduled(client_id="", prospect_id=PROSPECT)
    assert linked(prospect_only, None, None) == prospect_only


def test_unknown_and_archived_records_name_the_field_and_the_id() -> None:
    missing = missing_link("client_id", CLIENT)
    assert (missing.reason, missing.metadata) == ("client_not_found", {"field": "client_id", "id": CLIENT})
    assert CLIENT in missing.message and "client_id" in missing.message
    assert archived_link("prospect_id", PROSPECT).reason == "prospect_archived"
    assert missing_link("deal_id", DEAL).reason == "deal_not_found"


def test_only_new_links_are_checked_and_only_a_changed_deal_client_or_contact_relinks() -> None:
    current = _scheduled(deal_id=DEAL, prospect_id=PROSPECT)
    assert new_links(current, None) == {"deal_id", "client_id", "prospect_id"}
    assert new_links(replace(current, subject="otra"), current) == set()
    moved = replace(current, contact_id=CONTACT, prospect_id="")
    assert new_links(moved, current) == {"contact_id"}
    assert relinked(moved, current) and not relinked(replace(current, prospect_id=""), current)


def test_an_update_changes_the_named_fields_and_says_which_changed() -> None:
    current = _scheduled(notes="antes")
    draft = Activity(id="a-1", owner_id="", subject=" Visita ", kind=ActivityKind.VISIT, notes="ignorado")
    after, changed = updated(current, draft, ["subject", "kind"])
    assert (after.subject, after.kind, after.notes) == ("Visita", ActivityKind.VISIT, "antes")
    assert changed == ["kind", "subject"]
    same, nothing = updated(current, replace(current, subject=" Llamar para cotizar "), ["subject"])
    assert same == current and nothing == []
    with pytest.raises(InvalidArgument) as err:
        updated(current, replace(current, due_time=None), ["due_time"])
    assert _fields(err) == ["due_time"]  # a scheduled activity keeps a due time
    with pytest.raises(InvalidArgument) as err:
        updated(current, Activity(id="a-1", owner_id="u1"), ["*"])  # "*" takes every field from the draft
    assert {"kind", "subject", "due_time", "deal_id"} <= set(_fields(err))


def test_status_done_time_and_cancel_reason_change_only_through_their_calls() -> None:
    current = _scheduled()
    for path, call in (("status", "CancelActivity"), ("done_time", "CompleteActivity"), ("cancel_reason", "Cancel")):
        with pytest.raises(InvalidArgument) as err:
            updated(current, replace(current, subject="x"), ["subject", path])
        assert _fields(err) == ["update_mask"] and call in err.value.violations[0].description
    for path in ("id", "version", "create_time", "colour"):
        with pytest.raises(InvalidArgument) as err:
            checked_mask([path])
        assert f"'{path}'" in err.value.violations[0].description
    with pytest.raises(InvalidArgument) as err:
        checked_mask([])
    assert _fields(err) == ["update_mask"]


def test_a_stale_expected_version_is_a_conflict() -> None:
    current = replace(_scheduled(), version=3)
    with pytest.raises(Conflict) as err:
        updated(current, replace(current, subject="x"), ["subject"], expected_version=2)
    assert err.value.reason == "version_mismatch" and err.value.metadata["current_version"] == "3"
    assert updated(current, replace(current, subject="x"), ["subject"], expected_version=3)[1] == ["subject"]


def test_completing_records_the_outcome_and_a_repeat_with_the_same_outcome_is_a_no_op() -> None:
    current = _scheduled()
    done = completed(current, " pidió cotización ", None, NOW)
    assert done is not None
    assert (done.status, done.done_time, done.outcome) == (S.DONE, NOW, "pidió cotización")
    at = completed(current, "", YESTERDAY, NOW)
    assert at is not None and at.done_time == YESTERDAY and at.outcome == ""
    stored = replace(done, version=2)
    # A retry (even naming the version it read before the first completion) changes nothing.
    assert completed(stored, "pidió cotización", None, NOW + timedelta(hours=1), expected_version=1) is None
    assert completed(stored, "pidió cotización", NOW, NOW) is None
    for outcome, when in (("otra cosa", None), ("pidió cotización", YESTERDAY)):
        with pytest.raises(FailedPrecondition) as err:
            completed(stored, outcome, when, NOW)
        assert err.value.reason == "activity_already_done"
    with pytest.raises(Conflict):
        completed(replace(current, version=4), "x", None, NOW, expected_version=3)
    with pytest.raises(InvalidArgument) as bad:
        completed(current, "x" * 1001, None, NOW)
    assert _fields(bad) == ["outcome"]
    with pytest.raises(InvalidArgument) as bad:
        completed(current, "", NOW + timedelta(days=1), NOW)
    assert _fields(bad) == ["done_time"]


def test_cancelling_needs_a_reason_and_a_cancelled_or_done_activity_stays_as_it_is() -> None:
    current = _scheduled()
    with pytest.raises(InvalidArgument) as err:
        cancelled(current, "  ")
    assert _fields(err) == ["reason"]
    with pytest.raises(InvalidArgument) as err:
        cancelled(current, "x" * 501)
    assert _fields(err) == ["reason"]
    off = cancelled(current, " el cliente viaja ")
    assert off is not None and (off.status, off.cancel_reason, off.done_time) == (S.CANCELLED, "el cliente viaja", None)
    assert cancelled(off, "el cliente viaja") is None  # a retry changes nothing
    with pytest.raises(FailedPrecondition) as state:
        cancelled(off, "otro motivo")
    assert state.value.reason == "activity_cancelled"
    with pytest.raises(FailedPrecondition) as state:
        completed(off, "", None, NOW)
    assert state.value.reason == "activity_cancelled"
    done = completed(current, "hecho", None, NOW)
    assert done is not None
    with pytest.raises(FailedPrecondition) as state:
        cancelled(done, "tarde")
    assert state.value.reason == "activity_already_done" and state.value.metadata["activity_status"] == "done"


def test_overdue_and_upcoming_are_scheduled_activities_either_side_of_now() -> None:
    assert due_window(None, DueFilter.OVERDUE, None, None, NOW) == DueWindow(S.SCHEDULED, None, NOW)
    assert due_window(S.SCHEDULED, DueFilter.UPCOMING, None, None, NOW) == DueWindow(S.SCHEDULED, NOW, None)
    # Bounds narrow the window; they never widen it across now.
    week = NOW + timedelta(days=7)
    assert due_window(None, DueFilter.OVERDUE, YESTERDAY, week, NOW) == DueWindow(S.SCHEDULED, YESTERDAY, NOW)
    assert due_window(None, DueFilter.UPCOMING, YESTERDAY, week, NOW) == DueWindow(S.SCHEDULED, NOW, week)
    assert due_window(None, DueFilter.UPCOMING, TOMORROW, None, NOW) == DueWindow(S.SCHEDULED, TOMORROW, None)
    assert due_window(S.DONE, None, YESTERDAY, None, NOW) == DueWindow(S.DONE, YESTERDAY, None)
    with pytest.raises(InvalidArgument) as err:
        due_window(S.DONE, DueFilter.OVERDUE, None, None, NOW)
    assert _fields(err) == ["due"]
    with pytest.raises(InvalidArgument) as err:
        due_window(None, None, TOMORROW, TOMORROW, NOW)
    assert _fields(err) == ["due_before"]


def test_list_owners_and_text_query() -> None:
    assert owner_filter(["u2", "u1", "u2"]) == ("u1", "u2")
    assert owner_filter([]) == ()
    with pytest.raises(InvalidArgument) as err:
        owner_filter(["u1", ""])
    assert _fields(err) == ["owner_ids[1]"]
    assert needle("  Cotización ") == "cotización" and needle("") == ""
    with pytest.raises(InvalidArgument) as err:
        needle("x" * 201)
    assert _fields(err) == ["query"]
