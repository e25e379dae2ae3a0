"""Operations routes: liveness, readiness (the gateway answers its /readyz) and Prometheus metrics
(loopback callers only, as the gateway does without a metrics token)."""

from __future__ import annotations

import ipaddress

import requests
from flask import Blueprint, Response, abort, current_app, jsonify, request

from crm_web import metrics
from crm_web.api import http

bp = Blueprint("system", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    url = current_app.config["CRM_GATEWAY_URL"] + "/readyz"
    try:
        res = http().get(url, timeout=2)
        ready = res.status_code == 200
    except requests.RequestException:
        ready = False
    if ready:
        return jsonify(status="ready"), 200
    return jsonify(status="not ready", gateway="unreachable or not ready"), 503


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)
    return metrics.render()
