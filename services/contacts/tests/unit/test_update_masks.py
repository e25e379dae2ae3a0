"""Update masks, without I/O: which paths an update may name (errors name the bad ones), how a
mask applies a draft to a record, which fields changed, and the version an update may expect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm_contacts.domain.clients import UPDATABLE, Client, ClientKind, updated, validated
from crm_contacts.domain.common import Address
from crm_platform.errors import Conflict, InvalidArgument
from crm_platform.listing import owner_filter
from crm_platform.versioning import touched

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _client(**overrides: object) -> Client:
    base: dict[str, object] = {"id": "c-1", "kind": ClientKind.COMPANY, "name": "Acme", "owner_id": "u1"}
    base.update(overrides)
    return validated(Client(**base))  # type: ignore[arg-type]


def _draft(**overrides: object) -> Client:
    base: dict[str, object] = {"id": "c-1", "kind": None, "name": "", "owner_id": ""}
    base.update(overrides)
    return Client(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (["nmae"], "'nmae' is not a field that can be updated"),
        (["address.planet"], "'address.planet' is not a field that can be updated"),
        (["id"], "'id' cannot be changed"),
        (["version"], "'version' cannot be changed"),
        (["create_time"], "'create_time' cannot be changed"),
        (["archived"], "'archived' cannot be changed"),
        ([], "name the fields to change"),
    ],
)
def test_bad_masks_are_refused_naming_the_path(mask: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        updated(_client(), _draft(name="Otro"), mask)
    assert [v.field for v in err.value.violations] == ["update_mask"]
    assert message in err.value.violations[0].description


def test_every_bad_path_is_named_at_once() -> None:
    with pytest.raises(InvalidArgument) as err:
        UPDATABLE.check(["name", "id", "colour"])
    assert len(err.value.violations) == 2
    assert "'id'" in err.value.violations[0].description and "'colour'" in err.value.violations[1].description


def test_only_the_named_fields_change_and_are_normalised() -> None:
    current = _client(email="a@example.com", address=Address(city="Cali", country_code="CO"))
    after, changed = updated(
        current, _draft(name=" Nuevo ", email="X@EXAMPLE.COM", address=Address(city="Bogotá")), ["name", "address.city"]
    )
    assert (after.name, after.email, after.address) == (
        "Nuevo",
        "a@example.com",
        Address(city="Bogotá", country_code="CO"),
    )
    assert changed == ["name", "address"]


def test_the_wildcard_names_every_updatable_field() -> None:
    assert UPDATABLE.check(["*"]) == frozenset(UPDATABLE.fields)
    after, _ = updated(_client(industry="retail"), _draft(kind=ClientKind.PERSON, name="Ana", owner_id="u2"), ["*"])
    assert (after.kind, after.name, after.owner_id, after.industry) == (ClientKind.PERSON, "Ana", "u2", "")


def test_tax_id_parts() -> None:
    current = _client(tax_country="CO", tax_id="900123456-8")
    after, changed = updated(current, _draft(tax_country="MX", tax_id=" 901.234.567-7"), ["tax_id.value"])
    # Only the value changes: it is checked as the kept country's (a Colombian NIT) and normalised.
    assert (after.tax_country, after.tax_id, changed) == ("CO", "901234567-7", ["tax_id"])


def test_the_same_rules_as_create_apply() -> None:
    with pytest.raises(InvalidArgument) as err:
        updated(_client(), _draft(name="", email="bad"), ["name", "email"])
    assert {v.field for v in err.value.violations} == {"name", "email"}
    with pytest.raises(InvalidArgument) as err:
        updated(_client(), _draft(kind=None), ["kind"])
    assert [v.field for v in err.value.violations] == ["kind"]


def test_a_value_that_normalises_to_the_stored_one_changes_nothing() -> None:
    current = _client(email="a@example.com", phones=("+573001234567",))
    after, changed = updated(current, _draft(email=" A@Example.com ", phones=("300 123 4567",)), ["email"])
    assert changed == [] and after == current


def test_a_stale_expected_version_is_a_conflict() -> None:
    current = touched(_client(), NOW)
    assert current.version == 2 and current.updated_at == NOW
    with pytest.raises(Conflict) as err:
        updated(current, _draft(name="Otro"), ["name"], expected_version=1)
    assert err.value.reason == "version_mismatch" and err.value.metadata["current_version"] == "2"
    assert updated(current, _draft(name="Otro"), ["name"], expected_version=2)[1] == ["name"]
    assert updated(current, _draft(name="Otro"), ["name"], expected_version=0)[1] == ["name"]


def test_owner_filters_are_sorted_and_never_blank() -> None:
    assert owner_filter(["u2", "u1", "u2"]) == ("u1", "u2")
    assert owner_filter([]) == ()
    with pytest.raises(InvalidArgument) as err:
        owner_filter(["u1", ""])
    assert [v.field for v in err.value.violations] == ["owner_ids[1]"]
