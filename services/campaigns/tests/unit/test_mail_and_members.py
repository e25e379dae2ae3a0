"""Merge fields (escaped in HTML, the unsubscribe link always there, unknown fields refused),
Mailchimp's tags, unsubscribe tokens, member status moves, round-robin call lists, leads, and the
results' arithmetic (cost per lead, ROI) — no I/O."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_campaigns.domain import content
from crm_campaigns.domain.leads import Lead, lead_key, lead_problems
from crm_campaigns.domain.members import MailEvent, MemberStatus, after_call, after_mail_event, round_robin
from crm_campaigns.domain.results import cost_per_lead, roi
from crm_campaigns.domain.tokens import member_of_token, unsubscribe_token

VALUES = {"first_name": "Lucía", "client_name": "Peña <b>& Hijos</b>", "unsubscribe_url": "https://crm.example/u?t=1"}


def test_merge_fields_escape_html_and_keep_text() -> None:
    msg = content.render(
        "Hola {{ first_name }}", "<p>{{ first_name }} de {{ client_name }}</p>", "{{ client_name }}", VALUES
    )
    assert msg.subject == "Hola Lucía"
    assert "<p>Lucía de Peña &lt;b&gt;&amp; Hijos&lt;/b&gt;</p>" in msg.html
    assert msg.text.startswith("Peña <b>& Hijos</b>")


def test_the_unsubscribe_link_is_added_once() -> None:
    placed = content.render("s", "<a href='{{ unsubscribe_url }}'>baja</a>", "baja: {{ unsubscribe_url }}", VALUES)
    assert placed.html.count("https://crm.example/u?t=1") == 1 and placed.text.count("https://crm.example/u?t=1") == 1
    added = content.render("s", "<p>hola</p>", "hola", VALUES)
    assert added.html.count("https://crm.example/u?t=1") == 1 and "https://crm.example/u?t=1" in added.text


def test_a_subject_stays_on_one_line() -> None:
    assert content.render("{{ first_name }}", "", "", {"first_name": "a\r\nBcc: x@y"}).subject == "a  Bcc: x@y"


@pytest.mark.parametrize(
    ("source", "problem"),
    [("{{ first_name }}", ""), ("{{ nombre }}", "unknown merge field 'nombre'"), ("{% for %}", "template error")],
)
def test_template_check(source: str, problem: str) -> None:
    found = content.check_template(source)
    assert (problem in found) if problem else found == ""


def test_templates_are_sandboxed() -> None:
    assert "unknown merge field" in content.check_template("{{ cycler.__init__.__globals__ }}")


def test_mailchimp_tags() -> None:
    out = content.render_with_tags(
        "<p>{{ first_name }} {{ unsubscribe_url }}</p>",
        {"first_name": "*|FNAME|*", "unsubscribe_url": "*|UNSUB|*"},
        True,
    )
    assert out == "<p>*|FNAME|* *|UNSUB|*</p>"


def test_unsubscribe_tokens() -> None:
    key = b"k" * 32
    token = unsubscribe_token(key, "m-1")
    assert member_of_token(key, token) == "m-1"
    assert member_of_token(b"x" * 32, token) is None
    assert member_of_token(key, "m-2" + token[3:]) is None
    assert member_of_token(key, "garbage") is None


def test_mail_statuses_move_forward_only() -> None:
    s = after_mail_event(MemberStatus.PENDING, MailEvent.DELIVERED)
    assert s is MemberStatus.SENT
    s = after_mail_event(s, MailEvent.CLICKED)
    assert s is MemberStatus.CLICKED
    assert after_mail_event(s, MailEvent.OPENED) is MemberStatus.CLICKED
    assert after_mail_event(s, MailEvent.UNSUBSCRIBED) is MemberStatus.UNSUBSCRIBED
    assert after_mail_event(MemberStatus.BOUNCED, MailEvent.OPENED) is MemberStatus.BOUNCED
    assert after_call(MemberStatus.PENDING, False) is MemberStatus.CALLED
    assert after_call(MemberStatus.CALLED, True) is MemberStatus.CONVERTED
    assert after_call(MemberStatus.CONVERTED, False) is MemberStatus.CONVERTED


def test_round_robin() -> None:
    assert round_robin(5, ["a", "b"]) == ["a", "b", "a", "b", "a"]
    assert round_robin(2, []) == ["", ""]


def test_leads() -> None:
    lead, problems = lead_problems(Lead(first_name=" Ana ", email=" ANA@X.example ", country_code="co"))
    assert problems == [] and lead.email == "ana@x.example" and lead.country_code == "CO"
    assert lead_key(lead) == "lead:email:ana@x.example"
    assert lead_key(Lead(external_id="g-1", email="a@b.co")) == "lead:ext:g-1"
    _, problems = lead_problems(Lead())
    assert [p.field for p in problems] == ["lead.company_name"]
    _, problems = lead_problems(Lead(first_name="x", email="no", country_code="COL"))
    assert [p.field for p in problems] == ["lead.email", "lead.country_code"]


def test_cost_per_lead_and_roi() -> None:
    assert cost_per_lead(Decimal("100"), 3, "USD") == Decimal("33.33")
    assert cost_per_lead(Decimal("100"), 3, "COP") == Decimal("33")
    assert cost_per_lead(Decimal("100"), 0, "USD") is None
    assert roi(Decimal("300"), Decimal("200")) == "0.5"
    assert roi(Decimal("500"), Decimal("200")) == "1.5"
    assert roi(Decimal("0"), Decimal("200")) == "-1"
    assert roi(Decimal("200"), Decimal("200")) == "0"
    assert roi(Decimal("1"), Decimal("3")) == "-0.6667"
    assert roi(Decimal("10"), Decimal("0")) == ""
