"""What the OpenAPI document says that no single view can: headers every answer carries."""

RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests the client may make in the current minute.",
    "RateLimit-Remaining": "Requests left in the current minute.",
    "RateLimit-Reset": "Seconds until the minute ends and the count starts again.",
}


def document_rate_limit_headers(result, generator, request, public):
    """drf-spectacular post-processing hook: every answer of an operation a token signs in to carries the
    RateLimit-* headers (none while the rate store is away), and a 429 also Retry-After."""
    headers = {name: {"schema": {"type": "integer"}, "description": text} for name, text in RATE_LIMIT_HEADERS.items()}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for code, answer in operation.get("responses", {}).items():
                answer.setdefault("headers", {}).update(headers)
                if code == "429":
                    answer["headers"]["Retry-After"] = {"schema": {"type": "integer"},
                                                        "description": "Seconds to wait before trying again."}
    return result
