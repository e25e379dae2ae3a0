"""`crm check-consistency`: compares each service's records with what the rest of the platform
believes about them, and prints the differences (none on a healthy platform):

- each record of contacts (clients, contacts, prospects), deals (deals, activities), quotes
  (products, quotes) and campaigns (campaigns) against the reporting service's read model of it:
  present, at the same version, deleted there only when gone at the source;
- each campaign member against the client, contact or prospect it was taken from.

It reads each service's own database (CRM_<SERVICE>_DATABASE_URL, or the embedded SQLite files
under CRM_DATA_DIR), read-only, as an operator's tool may (services never read each other's
tables). The read models follow the events, so right after writes they may lag: --wait S checks
again until they agree or S seconds have passed (the fault suite does that)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, text

from crm_platform.config import ConfigError, service_config

# (source service, source table, the reporting read model of it)
READ_MODELS: tuple[tuple[str, str, str], ...] = (
    ("contacts", "clients", "rm_clients"),
    ("contacts", "contacts", "rm_contacts"),
    ("contacts", "prospects", "rm_prospects"),
    ("deals", "deals", "rm_deals"),
    ("deals", "activities", "rm_activities"),
    ("quotes", "products", "rm_products"),
    ("quotes", "quotes", "rm_quotes"),
    ("campaigns", "campaigns", "rm_campaigns"),
)
# A campaign member's source record: (member column, contacts table)
MEMBER_SOURCES = (("client_id", "clients"), ("contact_id", "contacts"), ("prospect_id", "prospects"))


@dataclass(frozen=True)
class Report:
    compared: dict[str, int]  # "contacts.clients" -> records compared
    differences: list[str]

    @property
    def consistent(self) -> bool:
        return not self.differences


@contextmanager
def _engines(names: set[str]) -> Iterator[dict[str, Engine]]:
    engines = {name: create_engine(service_config(name).database_url) for name in names}
    try:
        yield engines
    finally:
        for engine in engines.values():
            engine.dispose()


def _versions(engine: Engine, table: str, where: str = "") -> dict[str, int]:
    with engine.connect() as conn:
        return {str(r[0]): int(r[1]) for r in conn.execute(text(f"SELECT id, version FROM {table} {where}"))}


def check(limit: int = 20) -> Report:
    """One comparison of every source with its read model and of campaign members with their
    sources; at most `limit` differences are spelt out per table (and the rest counted)."""
    compared: dict[str, int] = {}
    differences: list[str] = []
    with _engines({"contacts", "deals", "quotes", "campaigns", "reporting"}) as db:
        for service, table, model in READ_MODELS:
            source = _versions(db[service], table)
            modelled = _versions(db["reporting"], model, "WHERE deleted = false")
            compared[f"{service}.{table}"] = len(source)
            found: list[str] = []
            for id_, version in source.items():
                seen = modelled.get(id_)
                if seen is None:
                    found.append(f"{service}.{table} {id_} (version {version}) is missing from reporting.{model}")
                elif seen != version:
                    found.append(f"{service}.{table} {id_} is at version {version}, reporting.{model} at {seen}")
            for id_ in modelled.keys() - source.keys():
                found.append(f"reporting.{model} {id_} has no record in {service}.{table}")
            differences += found[:limit]
            if len(found) > limit:
                differences.append(f"... and {len(found) - limit} more differences in {service}.{table}")
        known = {t: set(_versions(db["contacts"], t)) for _c, t in MEMBER_SOURCES}
        with db["campaigns"].connect() as conn:
            members = conn.execute(
                text("SELECT id, campaign_id, client_id, contact_id, prospect_id FROM campaign_members")
            )
            rows = list(members)
        compared["campaigns.campaign_members"] = len(rows)
        found = []
        for row in rows:
            for column, table in MEMBER_SOURCES:
                ref = getattr(row, column)
                if ref and ref not in known[table]:
                    found.append(
                        f"campaign member {row.id} of {row.campaign_id} names {column} {ref}, not in contacts.{table}"
                    )
        differences += found[:limit]
        if len(found) > limit:
            differences.append(f"... and {len(found) - limit} more differences in campaigns.campaign_members")
    return Report(compared, differences)


def check_until_consistent(wait: float) -> Report:
    """Checks again (the read models follow the events) until consistent or `wait` seconds passed."""
    deadline = time.monotonic() + wait
    while True:
        report = check()
        if report.consistent or time.monotonic() >= deadline:
            return report
        time.sleep(0.5)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crm check-consistency", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to keep checking while the read models catch up (default 0)"
    )
    args = parser.parse_args(argv)
    if args.wait < 0:
        parser.error("--wait must be 0 or more seconds")
    try:
        report = check_until_consistent(args.wait)
    except ConfigError as exc:
        print(f"crm: {exc}", file=sys.stderr)
        return 2
    for what, count in report.compared.items():
        print(f"{what:<28} {count} records compared")
    if report.consistent:
        print("consistent: no differences")
        return 0
    for line in report.differences:
        print(line)
    print(f"{len(report.differences)} differences", file=sys.stderr)
    return 1
