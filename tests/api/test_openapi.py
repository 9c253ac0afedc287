"""The published specification is valid OpenAPI and describes what the app serves."""

import pytest
from openapi_spec_validator import validate


def test_the_spec_validates_and_covers_every_documented_route(client):
    spec = client.get("/api/openapi.json").get_json()

    validate(spec)
    assert {"/api/auth/signup", "/api/auth/login", "/api/jobs/{job_id}", "/readyz"} <= set(spec["paths"])
    signup = spec["paths"]["/api/auth/signup"]["post"]
    assert signup["security"] == []
    assert "201" in signup["responses"] and "400" in signup["responses"]
    body_schema = spec["components"]["schemas"]["SignupIn"]
    assert {"companyName", "name", "email", "password"} <= set(body_schema["properties"])


def test_each_operation_refers_to_its_own_schema(client):
    spec = client.get("/api/openapi.json").get_json()

    start = spec["paths"]["/api/connections/{connection_id}/start"]["post"]["requestBody"]["content"]
    schema = spec["components"]["schemas"][start["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(schema["properties"]) == {"pairPhone"}


def test_two_schemas_of_one_name_are_refused():
    from api.openapi import _Components
    from api.schemas import OutSchema

    def named_start(field: str) -> type[OutSchema]:
        return type("StartIn", (OutSchema,), {"__annotations__": {field: str}})

    components = _Components()
    components.ref(named_start("pair_phone"), "validation")

    with pytest.raises(ValueError, match="two schemas are named StartIn"):
        components.ref(named_start("contact_id"), "validation")


def test_the_docs_page_lists_the_operations_without_auth(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert "/api/auth/login" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/api/contacts/import", "/api/leads/import"])
def test_the_imports_show_their_upload(client, path):
    spec = client.get("/api/openapi.json").get_json()

    content = spec["paths"][path]["post"]["requestBody"]["content"]

    assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert content["text/csv"]["schema"] == {"type": "string"}
