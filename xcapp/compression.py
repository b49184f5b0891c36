"""gzip for text responses (pages, fragments, CSS, JS, JSON, CSV), static files included.

Phones on a weak signal pay for every byte: the checklist's first load must stay
under 40 KB on the wire. Static files are versioned and cached for a year, so their
compressed bytes are computed once per process and kept.
"""
from __future__ import annotations

import gzip

from flask import Flask, request

COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
MIN_SIZE = 500
_static_cache: dict[tuple[str, str], bytes] = {}


def init_app(app: Flask) -> None:
    @app.after_request
    def compress(response):
        if (response.status_code < 200 or response.status_code >= 300 or response.status_code == 204
                or "gzip" not in request.headers.get("Accept-Encoding", "")
                or "Content-Encoding" in response.headers
                or not (response.mimetype or "").startswith(COMPRESSIBLE)):
            return response
        response.direct_passthrough = False
        data = response.get_data()
        if len(data) < MIN_SIZE:
            return response
        if request.endpoint == "static":
            key = (request.path, response.headers.get("ETag", ""))
            packed = _static_cache.get(key)
            if packed is None:
                packed = _static_cache[key] = gzip.compress(data, 9)
        else:
            packed = gzip.compress(data, 6)
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        return response
