"""A mailing's content with merge fields: Jinja2 templates (Flask's own template engine) run in
its sandbox, HTML-escaped in the HTML body, so a client named `<b>Peña & Hijos</b>` is shown as
text and a template can reach nothing but the merge fields. Every message carries its member's
unsubscribe link: a template that does not place `{{ unsubscribe_url }}` gets it as a footer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

# The merge fields a template may use.
MERGE_FIELDS = ("first_name", "last_name", "name", "client_name", "email", "campaign_name", "unsubscribe_url")

_html = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_text = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
for _env in (_html, _text):  # a template sees the merge fields and nothing else (no range, cycler ...)
    _env.globals.clear()


def check_template(source: str) -> str:
    """Why the template cannot be used ("" when it can): bad syntax or an unknown merge field."""
    if not source:
        return ""
    try:
        names = meta.find_undeclared_variables(_text.parse(source))
    except TemplateSyntaxError as exc:
        return f"template error on line {exc.lineno}: {exc.message}"
    unknown = sorted(names - set(MERGE_FIELDS))
    if unknown:
        return f"unknown merge field '{unknown[0]}'; use {', '.join(MERGE_FIELDS)}"
    return ""


@lru_cache(maxsize=64)
def _compiled(source: str, html: bool) -> Template:
    return (_html if html else _text).from_string(source)


@dataclass(frozen=True)
class Message:
    subject: str
    html: str
    text: str


def render(subject: str, html_body: str, text_body: str, values: Mapping[str, str]) -> Message:
    """The member's message: merge fields filled (escaped in HTML), the unsubscribe link added
    when the template does not place it."""
    fields = {name: values.get(name, "") for name in MERGE_FIELDS}
    link = fields["unsubscribe_url"]
    html = _compiled(html_body, True).render(fields) if html_body else ""
    text = _compiled(text_body, False).render(fields) if text_body else ""
    if html_body and "unsubscribe_url" not in html_body:
        footer = Markup('<p style="font-size:small"><a href="{}">Cancelar suscripción / Unsubscribe</a></p>')
        html = html + str(footer.format(link))  # str + Markup would escape the body
    if "unsubscribe_url" not in text_body:
        text += f"\n\n--\nCancelar suscripción / Unsubscribe: {link}\n"
    subj = _compiled(subject, False).render(fields).replace("\r", " ").replace("\n", " ") if subject else ""
    return Message(subj, html, text)


def render_with_tags(source: str, tags: Mapping[str, str], html: bool) -> str:
    """The template with each merge field replaced by a provider's own tag (Mailchimp's
    `*|FNAME|*`), left unescaped: the provider fills them per recipient."""
    if not source:
        return ""
    return str(_compiled(source, html).render({k: Markup(v) for k, v in tags.items()}))
