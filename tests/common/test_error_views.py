import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/portfolios/null,null", "/api/v1/no-such-endpoint", "/api/v1/portfolios/%C2%84/risk"])
def test_unmatched_api_urls_get_the_json_error_shape(investor_client, path):
    response = investor_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"type": "client_error", "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}]}


def test_unmatched_non_api_urls_keep_django_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]
