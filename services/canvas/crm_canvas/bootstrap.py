"""Wires the canvas service: its servicer with the peer services (quotes, deals, campaigns,
contacts) as the directory of the records notes link to, and its migrations. Tests wire a fake
directory with `spec(directory)`."""

from __future__ import annotations

from crm_canvas.adapters.records import GrpcRecordsDirectory, RecordsDirectory
from crm_canvas.entrypoints.grpc_servicer import CanvasServicer
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def spec(directory: RecordsDirectory | None = None) -> ServiceSpec:
    """The service's spec; the directory defaults to the peer services over gRPC."""

    def register(server: GrpcServer, db: Database) -> None:
        server.register(CanvasServicer(db, directory or GrpcRecordsDirectory()))

    return ServiceSpec(name="canvas", migrations="crm_canvas:migrations", register=register)


SPEC = spec()
