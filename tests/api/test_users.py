"""Users: company scoping, roles and the plan's user limit."""

from __future__ import annotations

from db.users import User


def test_admin_creates_a_user_in_their_company(client, factories, app):
    admin = factories.user(role="admin")

    response = client.post(
        "/api/users",
        headers=factories.auth_headers(app, admin),
        json={"name": "Agent Smith", "email": "smith@example.com", "password": "long-enough", "role": "agent"},
    )

    assert response.status_code == 201
    created = User.get(User.email == "smith@example.com")
    assert created.company_id == admin.company_id and created.role == "agent"


def test_the_plan_user_limit_is_a_403_and_creates_nothing(client, factories, app):
    company = factories.company(plan=factories.plan(max_users=2))
    admin = factories.user(company=company)
    factories.user(company=company, role="agent")

    response = client.post(
        "/api/users",
        headers=factories.auth_headers(app, admin),
        json={"name": "One Too Many", "email": "many@example.com", "password": "long-enough"},
    )

    assert response.status_code == 403
    assert response.get_json()["error"] == "plan_limit_reached"
    assert response.get_json()["details"] == {"limit": 2, "resource": "users"}
    assert User.select().where(User.company == company).count() == 2


def test_another_company_s_user_is_404_for_read_change_and_delete(client, factories, app):
    admin = factories.user()
    stranger = factories.user()
    headers = factories.auth_headers(app, admin)

    assert client.get(f"/api/users/{stranger.id}", headers=headers).status_code == 404
    assert client.patch(f"/api/users/{stranger.id}", headers=headers, json={"name": "x"}).status_code == 404
    assert client.delete(f"/api/users/{stranger.id}", headers=headers).status_code == 404
    assert User.get_by_id(stranger.id).name == stranger.name


def test_lists_show_only_the_caller_s_company(client, factories, app):
    admin = factories.user()
    colleague = factories.user(company=admin.company, role="agent")
    factories.user()

    page = client.get("/api/users", headers=factories.auth_headers(app, admin)).get_json()

    assert {u["id"] for u in page["items"]} == {admin.id, colleague.id}
    assert page["total"] == 2 and page["page"] == 1 and page["pageSize"] == 50


def test_an_agent_cannot_manage_users(client, factories, app):
    agent = factories.user(role="agent")
    headers = factories.auth_headers(app, agent)

    response = client.post(
        "/api/users", headers=headers, json={"name": "X", "email": "x@example.com", "password": "long-enough"}
    )

    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_role"
    assert client.get("/api/users", headers=headers).status_code == 403


def test_a_disabled_user_s_tokens_stop_working(client, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")
    agent_headers = factories.auth_headers(app, agent)

    client.patch(f"/api/users/{agent.id}", headers=factories.auth_headers(app, admin), json={"active": False})

    assert client.get(f"/api/users/{agent.id}", headers=agent_headers).status_code == 401
