"""The message as it goes on the wire: CRLF lines within SMTP's limit, UTF-8 headers encoded,
text then HTML, the List-Unsubscribe header — read back with the standard library's parser."""

from __future__ import annotations

from email import message_from_bytes, policy

from crm_campaigns.adapters.mail import OutgoingMail, to_email_bytes


def test_the_wire_form_reads_back() -> None:
    html = "<p>Hola Lucía, de Peña &amp; Hijos</p>" * 40
    mail = OutgoingMail(
        to_email="lucia@example.com",
        to_name="Lucía Gómez",
        subject="Novedades para Lucía",
        html=html,
        text="Hola Lucía",
        from_email="ventas@example.com",
        from_name="Ventas Peña",
        reply_to="responder@example.com",
        unsubscribe_url="https://crm.example/api/v1/unsubscribe?token=abc.def",
    )
    raw = to_email_bytes(mail)
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"") and max(len(line) for line in lines) <= 998
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "Novedades para Lucía"
    assert msg["To"].addresses[0].display_name == "Lucía Gómez"  # type: ignore[union-attr]
    assert msg["From"].addresses[0].addr_spec == "ventas@example.com"  # type: ignore[union-attr]
    assert msg["Reply-To"] == "responder@example.com"
    assert msg["List-Unsubscribe"] == "<https://crm.example/api/v1/unsubscribe?token=abc.def>"
    assert msg.get_body(("plain",)).get_content().strip() == "Hola Lucía"  # type: ignore[union-attr]
    assert msg.get_body(("html",)).get_content().strip() == html  # type: ignore[union-attr]
