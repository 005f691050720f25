"""drf-spectacular hook: the answers that come before any view, in the schema too."""

from typing import Any

from .errors import is_wallet_path


def error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ErrorDetail"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_refused_input(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """HostileInputMiddleware answers 400 to a NUL in any API path or query, and DRF 415 to a
    body in a media type no parser reads; wallet endpoints answer an LNURL ERROR instead."""
    for path, operations in result["paths"].items():
        if is_wallet_path(path):
            continue
        for operation in operations.values():
            responses = operation["responses"]
            responses.setdefault("400", error("A NUL character in the path or query."))
            if "requestBody" in operation:
                responses.setdefault("415", error("A body in a media type this does not read."))
    return result
