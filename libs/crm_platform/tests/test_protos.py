"""The committed generated code in libs/crm is what protos/ generates (`crm gen-protos`), and the
contracts follow the project's conventions."""

from __future__ import annotations

import importlib
import pkgutil

import crm
from crm_platform.protogen import differences


def test_generated_code_matches_the_protos() -> None:
    problems = differences()
    assert problems == [], "run `./crm gen-protos` and commit: " + ", ".join(problems)


def _modules() -> list:  # type: ignore[type-arg]
    return [
        importlib.import_module(m.name) for m in pkgutil.walk_packages(crm.__path__, "crm.") if m.name.endswith("_pb2")
    ]


def test_enums_start_with_an_unspecified_zero_value_and_events_carry_meta() -> None:
    checked_enums = checked_events = 0
    for module in _modules():
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            assert enum.values[0].number == 0 and enum.values[0].name.endswith("_UNSPECIFIED"), enum.full_name
            checked_enums += 1
        if module.__name__.endswith(".events_pb2"):
            for message in module.DESCRIPTOR.message_types_by_name.values():
                meta = message.fields_by_number.get(1)
                assert meta is not None and meta.message_type.full_name == "crm.common.v1.EventMeta", message.full_name
                checked_events += 1
    assert checked_enums > 10 and checked_events > 20


# Lists that are always answered whole, with the reason.
UNPAGED_LISTS = {
    # The public keys access tokens are signed with: a handful, fetched whole like a JWKS document.
    "crm.identity.v1.IdentityService.ListSigningKeys",
}


def test_every_service_has_a_contract_and_list_calls_paginate() -> None:
    from crm_platform.config import SERVICES

    for name in SERVICES:
        module = importlib.import_module(f"crm.{name}.v1.{name}_pb2")
        service = module.DESCRIPTOR.services_by_name[f"{name.capitalize()}Service"]
        lists = [m for m in service.methods if m.name.startswith("List")]
        assert lists, f"{name} has no List call"
        for method in lists:
            if method.full_name in UNPAGED_LISTS:
                continue
            fields = method.input_type.fields_by_name
            assert fields["page_size"].number == 1 and fields["page_token"].number == 2, method.full_name
            assert "next_page_token" in method.output_type.fields_by_name, method.full_name
