"""Products (Producto), the catalogue: everyone reads it (list with search and kind filter,
forward paging; the detail page with its price history and the deals that name it); managers and
admins change it (create, edit with the price and VAT kept in the history, import with the
per-row report, delete or deactivate). What a rep may not do is not offered; the API still
refuses it (a 403 page). Prices and rates are shown in the user's locale."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from crm_web import lookups, pool, records
from crm_web import session as web_session
from crm_web.api import ApiError
from crm_web.forms import Form
from crm_web.prospects import CURRENCIES
from crm_web.record_labels import PRODUCT_KINDS, options

bp = Blueprint("products", __name__, url_prefix="/products")

# The list's filters: the API's query parameters of GET /api/v1/products (it has no export and
# no total count).
FILTERS = ["q", "kind", "include_inactive"]
FIELDS = [
    "sku",
    "name",
    "kind",
    "unit_price.amount",
    "unit_price.currency_code",
    "tax_rate",
    "unit_of_measure",
    "description",
]

IMPORT = records.ImportPage(
    path="/api/v1/products:import",
    title=lazy_gettext("Importar productos"),
    list_title=lazy_gettext("Productos"),
    columns_hint=lazy_gettext(
        "Columnas: código (SKU), nombre, tipo, precio, moneda, IVA, unidad, descripción… en español o "
        "en inglés. Las filas con un código que ya existe se omiten."
    ),
    list_endpoint="products.list_products",
    existing_endpoint="products.show_product",
    existing_arg="product_id",
    button_one=lazy_gettext("Importar %(num)s producto"),
    button_many=lazy_gettext("Importar %(num)s productos"),
    done_message=lazy_gettext("Importación terminada: %(n)s productos creados."),
    options=lambda: {"default_currency_code": request.form.get("default_currency_code", "")},
    option_fields=(
        ("default_currency_code", lazy_gettext("Moneda de las filas que no la dicen"), [(c, c) for c in CURRENCIES]),
    ),
)


def require_catalogue_manager() -> None:
    """The pages that change the catalogue are not offered to reps; opened directly, they answer
    what the API would (403), without asking it."""
    if not web_session.is_manager():
        raise ApiError(403, "catalogue_managers_only", "only admins and managers may change the catalogue")


@bp.get("/")
def list_products() -> str:
    api = web_session.api()
    args = records.filters(FILTERS)
    token = request.args.get("page_token", "")
    page = api.list(
        "/api/v1/products",
        page_size=records.PAGE_SIZE,
        page_token=token,
        **records.api_query(args, ("include_inactive",)),
    )
    ctx = {
        "page": page,
        "args": {**args, **({"page_token": token} if token else {})},
        "filters": args,
        "kinds": options(PRODUCT_KINDS),
    }
    return records.fragment_or_page("products-table", "products/_table.html", "products/list.html", **ctx)


@bp.route("/import", methods=["GET", "POST"])
def import_products() -> str | Response:
    require_catalogue_manager()
    return records.import_view(IMPORT)


def _body(form: Form) -> dict[str, Any]:
    body = form.body(FIELDS, keep_empty=True)
    body["unit_price"]["amount"] = records.parse_amount(body["unit_price"]["amount"])
    body["tax_rate"] = records.percent_to_fraction(body["tax_rate"])
    body["active"] = request.form.get("active") == "1"
    return body


def _changes(body: dict[str, Any], product: dict[str, Any]) -> dict[str, Any]:
    """Only what the form changed: an unchanged price must not add a line to the price history."""

    def same(a: Any, b: Any) -> bool:
        try:
            return Decimal(str(a)) == Decimal(str(b))
        except InvalidOperation:
            return a == b

    out: dict[str, Any] = {}
    for key, value in body.items():
        current = product.get(key)
        if key == "unit_price" and isinstance(current, dict):
            if same(value["amount"], current.get("amount")) and value["currency_code"] == current.get("currency_code"):
                continue
        elif (key == "tax_rate" and same(value, current)) or value == current:
            continue
        out[key] = value
    return out


def _form_of(product: dict[str, Any]) -> Form:
    form = Form.from_record(product, FIELDS)
    if not form.restored:
        form.values["tax_rate"] = records.fraction_to_percent(form.get("tax_rate"))
        form.values["active"] = "1" if product.get("active", True) else ""
    return form


@bp.route("/new", methods=["GET", "POST"])
def new_product() -> str | Response:
    require_catalogue_manager()
    form = _form_of({"kind": "product", "unit_price": {"currency_code": "COP"}, "tax_rate": "0.19", "active": True})
    if request.method == "POST":
        form = Form.posted()
        try:
            created = web_session.api().post("/api/v1/products", _body(form))
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            form.take(exc, FIELDS)
        else:
            flash(_("Producto «%(name)s» creado.", name=created["name"]), "success")
            return redirect(url_for("products.show_product", product_id=created["id"]))
    return render_template("products/form.html", form=form, product=None, **_options())


def _options() -> dict[str, Any]:
    return {"kinds": options(PRODUCT_KINDS), "currencies": [(c, c) for c in CURRENCIES]}


@bp.route("/<uuid:product_id>/edit", methods=["GET", "POST"])
def edit_product(product_id: UUID) -> str | Response:
    require_catalogue_manager()
    api = web_session.api()
    product = api.get(f"/api/v1/products/{product_id}")
    form = _form_of(product)
    if request.method == "POST":
        form = Form.posted()
        try:
            api.patch(
                f"/api/v1/products/{product_id}",
                _changes(_body(form), product) or {"active": product.get("active", True)},
                headers=records.if_match(request.form.get("version", "")),
            )
        except ApiError as exc:
            if exc.status not in (400, 409, 412):
                raise
            form.take(exc, FIELDS)
            if exc.status == 412:
                form.general = []
        else:
            flash(_("Cambios guardados."), "success")
            return redirect(url_for("products.show_product", product_id=product_id))
    return render_template("products/form.html", form=form, product=product, **_options())


@bp.get("/<uuid:product_id>")
def show_product(product_id: UUID) -> str:
    api = web_session.api()
    pid = str(product_id)
    product = pool.submit(api.get, f"/api/v1/products/{pid}")
    history = pool.submit(api.list, f"/api/v1/products/{pid}/price-history", page_size=50)
    deals = pool.submit(api.list, "/api/v1/deals", product_id=pid, page_size=20)
    users = pool.submit(lookups.users, api)
    stages = pool.submit(lookups.stages, api)
    record = product.result()  # a 404 ends here, as a not-found page
    rel = records.related({"history": history, "deals": deals})
    return render_template("products/detail.html", product=record, users=users.result(), stages=stages.result(), **rel)


def _crumbs(product: dict[str, Any], last: str) -> list[tuple[str | None, str]]:
    return [
        (url_for("products.list_products"), _("Productos")),
        (url_for("products.show_product", product_id=product["id"]), product["name"]),
        (None, last),
    ]


@bp.route("/<uuid:product_id>/deactivate", methods=["GET", "POST"])
def deactivate_product(product_id: UUID) -> str | Response:
    """The catalogue's "archive": an inactive product is left out of new quotes and the list."""
    require_catalogue_manager()
    api = web_session.api()
    product = api.get(f"/api/v1/products/{product_id}")
    back = url_for("products.show_product", product_id=product_id)
    if request.method == "POST":
        api.patch(
            f"/api/v1/products/{product_id}", {"active": False}, headers=records.if_match(str(product["version"]))
        )
        flash(_("Producto «%(name)s» desactivado.", name=product["name"]), "success")
        return redirect(back)
    return render_template(
        "confirm.html",
        crumbs=_crumbs(product, _("Desactivar")),
        heading=_("¿Desactivar «%(name)s»?", name=product["name"]),
        message=_("El producto deja de ofrecerse en cotizaciones nuevas; las cotizaciones hechas lo conservan."),
        consequence="",
        action=request.path,
        button=_("Desactivar"),
        cancel=back,
        danger=False,
    )


@bp.route("/<uuid:product_id>/delete", methods=["GET", "POST"])
def delete_product(product_id: UUID) -> str | Response:
    require_catalogue_manager()
    product = web_session.api().get(f"/api/v1/products/{product_id}")
    return records.confirm_delete(
        record_path=f"/api/v1/products/{product_id}",
        name=product["name"],
        crumbs=_crumbs(product, _("Eliminar")),
        back_url=url_for("products.show_product", product_id=product_id),
        done_url=url_for("products.list_products"),
        noun=_("Producto"),
        message=_("El producto se borra del catálogo para siempre."),
        consequence=_("Solo se puede eliminar un producto que ninguna cotización usa; si no, desactívalo."),
        refused=_(
            "No se puede eliminar «%(name)s»: hay cotizaciones que lo usan. Desactívalo en su lugar.",
            name=product["name"],
        ),
    )
