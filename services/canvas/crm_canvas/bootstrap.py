"""Wires the canvas service. Its RPCs are defined in protos/crm/canvas/v1; until the canvas issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.canvas.v1 import canvas_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, _db: Database) -> None:
    server.register(canvas_pb2_grpc.CanvasServiceServicer())


SPEC = ServiceSpec(name="canvas", migrations="crm_canvas:migrations", register=register)
