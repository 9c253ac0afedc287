"""Who gets in: admins and super admins by a session cookie, a CSRF token on every form, and company
admins only to their own company's operations."""

from __future__ import annotations

from tests.dashboards.conftest import QUEUE, dead_letter, demo_message, log_in, post_form


def test_a_super_admin_sees_every_queue_with_its_counts(client, broker, root):
    broker.enqueue(demo_message("nothing", 1))
    broker.enqueue(demo_message("nothing", 2))

    page = client.get("/dashboard/").get_data(as_text=True)

    assert f'<tr data-queue="{QUEUE}">' in page
    assert f'>{QUEUE}</a></td><td class="n">2</td>' in page


def test_a_company_admin_sees_their_connections_and_nothing_of_another_company(client, factories, broker):
    from db.connections import Connection

    admin = factories.user(role="admin")
    Connection.create(company=admin.company, name="Sales line")
    Connection.create(company=factories.company(), name="Someone else's line")
    dead_letter(broker, demo_message("nothing", "secret-argument"))

    log_in(client, admin.email)
    home = client.get("/dashboard/")
    page = client.get("/dashboard/operations").get_data(as_text=True)

    assert home.status_code == 302 and home.headers["Location"].endswith("/dashboard/operations")
    assert "Sales line" in page and "Someone else" not in page
    assert "Health" not in page and "Scheduler jobs" not in page
    assert client.get(f"/dashboard/queues/{QUEUE}?state=dead").status_code == 403
    assert post_form(client, f"/dashboard/queues/{QUEUE}/dead/delete", all="1").status_code == 403
    assert broker.client.zcard(f"dramatiq:{QUEUE}.XQ") == 1


def test_an_agent_cannot_log_in_and_pages_need_a_login(client, factories):
    agent = factories.user(role="agent")

    assert log_in(client, agent.email).status_code == 401
    for path in ("/dashboard/", "/dashboard/operations", f"/dashboard/queues/{QUEUE}"):
        response = client.get(path)
        assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]


def test_an_operator_demoted_to_agent_is_out_at_the_next_page(client, factories):
    admin = factories.user(role="admin")
    log_in(client, admin.email)
    admin.role = "agent"
    admin.save()

    assert client.get("/dashboard/operations").status_code == 302


def test_forms_without_the_csrf_token_are_refused(client, broker, root):
    dead_letter(broker, demo_message())

    login = client.post("/dashboard/login", data={"email": root.email, "password": "x"})
    action = client.post(f"/dashboard/queues/{QUEUE}/dead/delete", data={"all": "1"})
    forged = client.post(f"/dashboard/queues/{QUEUE}/dead/delete", data={"all": "1", "csrf": "forged"})

    assert login.status_code == action.status_code == forged.status_code == 400
    assert broker.client.zcard(f"dramatiq:{QUEUE}.XQ") == 1
