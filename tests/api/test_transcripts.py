"""A ticket's conversation as plain text: downloaded, or e-mailed once through a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import email

from dramatiq.middleware import CurrentMessage

from db.jobs import Job
from tests.waiting import finished_job
from workers.transcripts import email_transcript


def conversation(factories, company, connection, agent):
    contact = factories.contact(company, name="Ana Lima", phone="+5511987654321")
    ticket = factories.ticket(company, connection=connection, contact=contact, user=agent, status="open")
    at = dt.datetime(2026, 12, 7, 13, 0)  # 10:00 in São Paulo
    for minutes, fields in enumerate([
        {"direction": "in", "body": "Oi, meu pedido\nnão chegou"},
        {"direction": "out", "user": agent, "body": "Vou verificar, Ana."},
        {"direction": "in", "type": "image", "media_path": "1/x.jpg", "media_name": "comprovante.jpg", "body": ""},
        {"direction": "out", "user": agent, "body": "Oops", "deleted_at": at},
        {"direction": "out", "body": "Obrigado pelo contato!"},
        {"direction": "out", "user": agent, "body": "nota interna", "private": True},
    ]):
        factories.message(ticket, created_at=at + dt.timedelta(minutes=minutes), **fields)
    return ticket


def test_the_conversation_downloads_as_text_in_the_company_timezone_without_private_notes(client, factories, app):
    company = factories.company(name="Loja Sol", timezone="America/Sao_Paulo")
    agent = factories.user(company, role="agent", name="Bia Souza")
    ticket = conversation(factories, company, factories.connection(company), agent)

    answer = client.get(f"/api/tickets/{ticket.id}/transcript", headers=factories.auth_headers(app, agent))

    assert (answer.status_code, answer.mimetype) == (200, "text/plain")
    assert answer.get_data(as_text=True) == (
        f"Conversation #{ticket.id} with Ana Lima (+5511987654321), Loja Sol\n"
        "Times in America/Sao_Paulo\n\n"
        "[2026-12-07 10:00] Ana Lima: Oi, meu pedido\n    não chegou\n"
        "[2026-12-07 10:01] Bia Souza: Vou verificar, Ana.\n"
        "[2026-12-07 10:02] Ana Lima: [image: comprovante.jpg]\n"
        "[2026-12-07 10:03] Bia Souza: (deleted)\n"
        "[2026-12-07 10:04] Loja Sol: Obrigado pelo contato!\n")
    other = factories.auth_headers(app, factories.user(company, role="agent"))
    assert client.get(f"/api/tickets/{ticket.id}/transcript", headers=other).status_code == 404


def test_the_conversation_is_e_mailed_once_per_job(client, factories, app, broker, worker, smtp_server):
    company = factories.company(name="Loja Sol", timezone="America/Sao_Paulo")
    agent = factories.user(company, role="admin")
    ticket = conversation(factories, company, factories.connection(company), agent)

    job = finished_job(client.post(f"/api/tickets/{ticket.id}/transcript", json={"email": "ana@example.com"},
                                   headers=factories.auth_headers(app, agent)))
    again = email_transcript.message(ticket.id, "ana@example.com").copy(message_id=job.id)  # delivered again
    current = CurrentMessage()
    current.before_process_message(broker, again)
    try:
        redelivered = email_transcript.fn(*again.args)
    finally:
        current.after_process_message(broker, again)
    bad = client.post(f"/api/tickets/{ticket.id}/transcript", json={"email": "not an address"},
                      headers=factories.auth_headers(app, agent))

    assert (job.status, job.result["sent"], redelivered["sent"]) == ("done", True, "before")
    [sent] = smtp_server.messages
    mail = email.message_from_bytes(sent.content)
    assert (sent.rcpt_tos, mail["Subject"]) == (["ana@example.com"], f"Your conversation #{ticket.id}")
    assert "[2026-12-07 10:01] " in mail.get_payload(decode=True).decode()
    assert (bad.status_code, list(bad.get_json()["details"])) == (400, ["email"])


def test_without_e_mail_the_conversation_is_not_sent_but_still_downloads(client, factories, app, email_off):
    company = factories.company(name="Loja Sol")
    agent = factories.user(company, role="admin")
    ticket = conversation(factories, company, factories.connection(company), agent)
    headers = factories.auth_headers(app, agent)

    refused = client.post(f"/api/tickets/{ticket.id}/transcript", json={"email": "ana@example.com"}, headers=headers)

    assert (refused.status_code, refused.get_json()["error"]) == (503, "email_not_configured")
    assert Job.select().count() == 0
    assert client.get(f"/api/tickets/{ticket.id}/transcript", headers=headers).status_code == 200


def test_a_contact_known_by_number_only_is_named_once(client, factories, app):
    company = factories.company(name="Loja Sol")
    admin = factories.user(company, role="admin")
    contact = factories.contact(company, name="+5511912345678", phone="+5511912345678")
    ticket = factories.ticket(company, contact=contact)

    answer = client.get(f"/api/tickets/{ticket.id}/transcript", headers=factories.auth_headers(app, admin))

    assert answer.get_data(as_text=True).splitlines()[0] == f"Conversation #{ticket.id} with +5511912345678, Loja Sol"
