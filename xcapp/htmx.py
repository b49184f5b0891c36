"""Small helpers for htmx requests."""
from flask import Response, request


def is_htmx() -> bool:
    """An htmx request that expects a fragment (boosted navigation wants full pages)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def hx_redirect(url: str, status: int = 200) -> Response:
    response = Response("", status=status)
    response.headers["HX-Redirect"] = url
    return response
