"""The queue dashboard: operators only, a session cookie, CSRF on every form."""

from __future__ import annotations

import re

from tests.factories import PASSWORD


def log_in(client, email: str):
    page = client.get("/dashboard/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/dashboard/login", data={"email": email, "password": PASSWORD, "csrf": token})


def test_a_super_admin_sees_queues_with_their_counts(client, factories, broker):
    import dramatiq

    root = factories.user(role="super")
    broker.enqueue(dramatiq.Message(queue_name="dash-demo", actor_name="nothing", args=(), kwargs={}, options={}))

    assert log_in(client, root.email).status_code == 302
    page = client.get("/dashboard/").get_data(as_text=True)

    assert "dash-demo" in page
    assert re.search(r"<td>dash-demo</td><td class=\"n\">1</td>", page)


def test_a_company_admin_sees_their_connections_but_not_the_queues(client, factories):
    from db.connections import Connection

    admin = factories.user(role="admin")
    Connection.create(company=admin.company, name="Sales line")
    Connection.create(company=factories.company(), name="Someone else's line")

    log_in(client, admin.email)
    page = client.get("/dashboard/").get_data(as_text=True)

    assert "Sales line" in page and "Someone else" not in page
    assert "<h2>Queues</h2>" not in page


def test_an_agent_cannot_log_in_and_pages_need_a_login(client, factories):
    agent = factories.user(role="agent")

    assert log_in(client, agent.email).status_code == 401
    assert client.get("/dashboard/").status_code == 302


def test_a_form_without_the_csrf_token_is_refused(client, factories):
    root = factories.user(role="super")

    response = client.post("/dashboard/login", data={"email": root.email, "password": PASSWORD})

    assert response.status_code == 400
