"""The campaigns service's bulk paths, in this process over real gRPC (SQLite files, an embedded
nats-server, free loopback ports):

  snapshot  --rows clients written into the contacts service's database by its own bulk writer
            (as its import does), all in one segment; then LaunchCampaign of a mailing aimed at
            that segment, timed: the campaigns service reads the segment from the contacts
            service over gRPC in pages of 500 and inserts the members with executemany in the
            launch's transaction (target: 100,000 members in under 30 s)
  send      SendMailing of a campaign of --send-rows of those clients to a real SMTP server on
            loopback (aiosmtpd in its own process), timed from the call until every member is recorded sent; each
            message is rendered with its merge fields and unsubscribe link, claimed and recorded in
            transactions of its own (target: ≥ 200 messages/s)

With --postgres-url the campaigns service runs on a scratch PostgreSQL database too.

    .venv/bin/python bench/campaigns.py [--rows 100000] [--send-rows 2000] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import campaigns_pb2_grpc
from crm_campaigns.bootstrap import build_spec
from crm_campaigns.settings import CampaignsSettings
from crm_contacts.adapters import repository as contacts_repository
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_contacts.domain.clients import Client, ClientKind
from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.grpc_client import close_channels
from crm_platform.ids import new_id
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime, ServiceSpec
from crm_platform.testing import scratch_postgres

OWNER = "0192d6e0-0000-7000-8000-0000000000aa"
# A bound on every wait of this script.
MAX_WAIT_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(spec: ServiceSpec, url: str, nats_url: str) -> ServiceRuntime:
    settings = PlatformSettings(nats_url=nats_url, relay_poll_seconds=0.05)
    runtime = ServiceRuntime(spec, ServiceConfig(spec.name, url, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", settings))
    runtime.start()
    assert runtime.ready.wait(30), f"{spec.name} did not become ready"
    return runtime


def seed(contacts: ServiceRuntime, rows: int, send_rows: int) -> None:
    t = time.perf_counter()
    for start in range(0, rows, 10_000):
        now = datetime.now(UTC)
        batch = [
            Client(
                id=new_id(),
                kind=ClientKind.COMPANY,
                name=f"Cliente {i:06d}",
                owner_id=OWNER,
                email=f"cliente{i}@bench.example",
                segment_tags=("bench", "send") if i < send_rows else ("bench",),
                created_at=now,
                updated_at=now,
            )
            for i in range(start, min(rows, start + 10_000))
        ]
        with contacts.db.uow() as uow:  # type: ignore[union-attr]
            contacts_repository.add_clients(uow.session, batch)
            uow.commit()
    print(f"seed: {rows:,} clients written in {time.perf_counter() - t:.1f} s (not part of the figures)")


def _campaign(stub: Any, name: str, tag: str) -> pb.Campaign:
    campaign = pb.Campaign(
        name=name,
        owner_id=OWNER,
        type=pb.CAMPAIGN_TYPE_MAILING,
        target=pb.TargetSegment(kind=pb.TARGET_KIND_CLIENTS, segment_tags=[tag]),
        mailing=pb.MailingContent(
            subject="Novedades para {{ client_name }}",
            html_body="<p>Hola {{ name }}:</p><p>Tenemos novedades.</p>",
            text_body="Hola {{ name }}: tenemos novedades.",
        ),
    )
    return stub.CreateCampaign(pb.CreateCampaignRequest(campaign=campaign), timeout=10).campaign


def run(label: str, url: str, nats_url: str, contacts: ServiceRuntime, args: argparse.Namespace) -> None:
    port = _free_port()
    # The SMTP server in a process of its own, as a real one is (aiosmtpd's Sink handler).
    smtp = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    settings = CampaignsSettings(
        smtp_host="127.0.0.1", smtp_port=port, send_poll_seconds=0.05, send_batch_size=500, unsubscribe_secret="bench"
    )
    campaigns = _start(build_spec(settings=settings), url, nats_url)
    try:
        stub = campaigns_pb2_grpc.CampaignsServiceStub(grpc.insecure_channel(f"127.0.0.1:{campaigns.grpc_port}"))
        c = _campaign(stub, "Snapshot", "bench")
        t = time.perf_counter()
        res = stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=MAX_WAIT_SECONDS)
        took = time.perf_counter() - t
        print(
            f"snapshot [{label}]: {res.member_count:,} members in {took:.1f} s "
            f"({res.member_count / took:,.0f} members/s; target < 30 s for 100,000)"
        )
        s = _campaign(stub, "Envío", "send")
        stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=s.id), timeout=MAX_WAIT_SECONDS)
        t = time.perf_counter()
        queued = stub.SendMailing(pb.SendMailingRequest(campaign_id=s.id), timeout=30).queued_count
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        sent = 0
        while sent < queued and time.monotonic() < deadline:
            time.sleep(0.05)
            sent = stub.GetCampaignResults(
                pb.GetCampaignResultsRequest(campaign_id=s.id), timeout=10
            ).results.mails_sent
        took = time.perf_counter() - t
        print(
            f"send [{label}]: {sent:,} of {queued:,} messages in {took:.1f} s ({sent / took:,.0f} msg/s; target ≥ 200)"
        )
    finally:
        campaigns.stop(grace=1)
        smtp.terminate()
        smtp.wait(10)
        close_channels()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--send-rows", type=int, default=2_000)
    parser.add_argument("--postgres-url", default="")
    args = parser.parse_args()
    if not 0 < args.send_rows <= args.rows <= 2_000_000:
        parser.error("need 0 < --send-rows <= --rows <= 2,000,000")
    with tempfile.TemporaryDirectory(prefix="crm-bench-campaigns-") as tmp:
        tmp_path = Path(tmp)
        server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
        contacts = _start(CONTACTS, f"sqlite:///{tmp_path / 'contacts.db'}", server.url)
        try:
            os.environ["CRM_CONTACTS_ADDR"] = f"127.0.0.1:{contacts.grpc_port}"
            seed(contacts, args.rows, args.send_rows)
            run("sqlite", f"sqlite:///{tmp_path / 'campaigns.db'}", server.url, contacts, args)
            if args.postgres_url:
                with scratch_postgres(args.postgres_url, "crm_bench_campaigns") as pg_url:
                    run("postgresql", pg_url, server.url, contacts, args)
        finally:
            contacts.stop(grace=1)
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
