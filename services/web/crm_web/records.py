"""What the contacts, prospects and products pages share, written once (the clients pages are the
exemplar these follow): the list's filters read from the query string, the CSV/XLSX import in
two steps (a dry run's per-row report, then the import with the same file), the archive and
delete confirmations, and a record's timeline built from what the API returns."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import NumberFormatError, parse_decimal
from flask import abort, current_app, flash, redirect, render_template, request, stream_with_context
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.formatting import babel_locale
from crm_web.forms import Form

PAGE_SIZE = 50
# Import files are sent back with the confirmation (the web application keeps no files); larger
# ones must be chosen again for the import itself.
MAX_CARRIED_IMPORT_BYTES = 2 * 1024 * 1024
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def filters(names: list[str]) -> dict[str, str]:
    """The list's filters that are set, by the API's query parameter names."""
    return {k: request.args.get(k, "").strip() for k in names if request.args.get(k, "").strip()}


def api_query(args: dict[str, str], flags: tuple[str, ...] = ("include_archived",)) -> dict[str, Any]:
    """The filters as the API's query: checkbox flags ("1") become booleans."""
    query: dict[str, Any] = dict(args)
    for flag in flags:
        query[flag] = args.get(flag) == "1"
    return query


def fragment_or_page(target: str, fragment: str, full_page: str, **ctx: Any) -> str:
    """The table fragment when htmx asks for it (the filters changed), else the whole page."""
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == target:
        return render_template(fragment, **ctx)
    return render_template(full_page, **ctx)


def export_csv(
    path: str, names: list[str], default_name: str, flags: tuple[str, ...] = ("include_archived",)
) -> Response:
    """The API's CSV export with the list's filters, streamed through."""
    args: dict[str, Any] = filters(names)
    for flag in flags:
        args[flag] = "true" if args.get(flag) == "1" else ""
    res, chunks = web_session.api().stream(path, **args)
    disposition = res.headers.get("Content-Disposition", f'attachment; filename="{default_name}"')
    headers = {"Content-Disposition": disposition}
    return current_app.response_class(stream_with_context(chunks), mimetype=CSV, headers=headers)


@dataclass(frozen=True)
class ImportPage:
    """One record kind's import page: the API path, the words the page uses, where it links."""

    path: str
    title: str
    list_title: str
    columns_hint: str
    list_endpoint: str
    # The detail page of the record a duplicate row matches (its id argument), or "" for none.
    existing_endpoint: str
    existing_arg: str
    button_one: str
    button_many: str
    done_message: str
    # Extra query parameters of the API's import (e.g. the default source of prospects).
    options: Callable[[], dict[str, str]] | None = None
    option_fields: tuple[tuple[str, str, list[tuple[str, str]]], ...] = ()


def import_view(cfg: ImportPage) -> str | Response:
    """Step 1: choose a file, which is checked (dry run) and reported row by row. Step 2: the
    report's "Import" sends the same file (carried in the form) for real."""
    form = Form.posted() if request.method == "POST" else Form()
    ctx: dict[str, Any] = {"cfg": cfg, "form": form, "report": None}
    if request.method == "GET":
        return render_template("records/import.html", **ctx)
    upload = request.files.get("file")
    carried = request.form.get("content", "")
    if upload and upload.filename:
        content = upload.read()
        name = upload.filename
    elif carried:
        try:
            content = base64.b64decode(carried, validate=True)
        except (binascii.Error, ValueError):
            abort(400)
        name = request.form.get("filename", "import.csv")
    else:
        form.error("file", _("Elige un archivo CSV o Excel (.xlsx)."))
        return render_template("records/import.html", **ctx)
    content_type = XLSX if name.lower().endswith(".xlsx") else CSV
    dry_run = request.form.get("step") != "import"
    params = {"dry_run": "true" if dry_run else "false"}
    params.update({k: v for k, v in (cfg.options() if cfg.options else {}).items() if v})
    try:
        res = web_session.api().request("POST", cfg.path, params=params, data=content, content_type=content_type)
    except ApiError as exc:
        if exc.status not in (400, 413, 415):
            raise
        form.take(exc, ["file", *(f for f, _label, _opts in cfg.option_fields)])
        return render_template("records/import.html", **ctx)
    report = res.json()
    if not dry_run:
        flash(cfg.done_message % {"n": report.get("created", 0)}, "success")
    carry = base64.b64encode(content).decode() if dry_run and len(content) <= MAX_CARRIED_IMPORT_BYTES else ""
    ctx.update(report=report, dry_run=dry_run, carry=carry, filename=name)
    return render_template("records/import.html", **ctx)


def confirm_archive(
    *, record_path: str, name: str, crumbs: list[tuple[str | None, str]], done_url: str, noun: str, message: str
) -> str | Response:
    """GET: ask; POST: archive through the API and go back to the record."""
    if request.method == "POST":
        web_session.api().post(f"{record_path}:archive")
        flash(_("%(noun)s «%(name)s» archivado.", noun=noun, name=name), "success")
        return redirect(done_url)
    return render_template(
        "confirm.html",
        crumbs=crumbs,
        heading=_("¿Archivar «%(name)s»?", name=name),
        message=message,
        consequence="",
        action=request.path,
        button=_("Archivar"),
        cancel=done_url,
        danger=False,
    )


def confirm_delete(
    *,
    record_path: str,
    name: str,
    crumbs: list[tuple[str | None, str]],
    back_url: str,
    done_url: str,
    noun: str,
    message: str,
    consequence: str,
    refused: str,
) -> str | Response:
    """GET: ask; POST: delete through the API. A record the API will not delete (it is in use,
    or converted) is a 400: said on the record's page, nothing changed."""
    if request.method == "POST":
        try:
            web_session.api().delete(record_path)
        except ApiError as exc:
            if exc.status != 400:
                raise
            flash(refused, "error")
            return redirect(back_url)
        flash(_("%(noun)s «%(name)s» eliminado.", noun=noun, name=name), "success")
        return redirect(done_url)
    return render_template(
        "confirm.html",
        crumbs=crumbs,
        heading=_("¿Eliminar «%(name)s»?", name=name),
        message=message,
        consequence=consequence,
        action=request.path,
        button=_("Eliminar"),
        cancel=back_url,
        danger=True,
    )


def if_match(version: str) -> dict[str, str] | None:
    """The version the form was read at: a change made since is a 412, not a silent overwrite."""
    return {"If-Match": f'"{version}"'} if version else None


def timeline(
    created: dict[str, Any],
    deals: list[dict[str, Any]] | None,
    activities: list[dict[str, Any]] | None,
    stages: dict[str, dict[str, Any]],
    extra: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """What happened, newest first: the record's creation (`created` = {time, text}), its
    activities (done or due), its deals' opening, stage changes and outcome, and `extra` events
    the page adds ({time, kind: "note", text})."""
    events: list[dict[str, Any]] = [{"time": created.get("time"), "kind": "created", "text": created.get("text", "")}]
    for a in activities or []:
        when = a.get("done_time") or a.get("due_time") or a.get("create_time")
        events.append({"time": when, "kind": f"activity-{a.get('kind') or 'task'}", "activity": a})
    for d in deals or []:
        for h in d.get("stage_history") or []:
            to = stages.get(h.get("to_stage_id", ""), {}).get("name", "")
            kind = "stage" if h.get("from_stage_id") else "deal-created"
            events.append({"time": h.get("move_time"), "kind": kind, "deal": d, "stage": to})
        if d.get("won_time"):
            events.append({"time": d["won_time"], "kind": "deal-won", "deal": d})
        if d.get("lost_time"):
            events.append({"time": d["lost_time"], "kind": "deal-lost", "deal": d})
    events.extend(extra or [])
    return sorted((e for e in events if e["time"]), key=lambda e: e["time"], reverse=True)


def related(futures: dict[str, Any]) -> dict[str, Any]:
    """The related lists of a detail page: a part that fails (other than a lost session) shows as
    "not available now" while the record itself still shows."""
    out: dict[str, Any] = {}
    for name, fut in futures.items():
        try:
            out[name] = fut.result().items
        except ApiError as exc:
            if exc.status == 401:
                raise
            out[name] = None
    return out


def person_name(record: dict[str, Any]) -> str:
    return " ".join(x for x in (record.get("first_name"), record.get("last_name")) if x)


def parse_amount(text: str) -> str:
    """An amount as the user typed it in their locale ("1.234.567,50" in es-CO) as the API's
    decimal string; what does not parse is sent as typed, for the API to name the problem."""
    if not text.strip():
        return ""
    try:
        typed = text.strip().replace(" ", "").replace("\u00a0", "")
        value = parse_decimal(typed, locale=babel_locale(web_session.user_locale()), strict=True)
    except NumberFormatError:
        return text.strip()
    return format(Decimal(value), "f")


def percent_to_fraction(text: str) -> str:
    """A rate typed as a percentage ("19" or "19,5") as the API's decimal fraction ("0.19");
    what does not parse is sent as typed, for the API to name the problem."""
    value = parse_amount(text)
    try:
        return format((Decimal(value) / 100).normalize(), "f") if value else ""
    except InvalidOperation:
        return value


def fraction_to_percent(fraction: str) -> str:
    """The API's rate ("0.19") as the percentage a form shows ("19")."""
    try:
        return format((Decimal(fraction) * 100).normalize(), "f") if fraction else ""
    except InvalidOperation:
        return fraction
