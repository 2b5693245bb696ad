"""The OpenAPI 3.1 description of fashion.serving.api, served at /api/openapi.json.

It is handed the API's settings (`Limits`) rather than importing the API module, which
serves it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fashion.classes import CLASS_NAMES


@dataclass(frozen=True)
class Limits:
    """What the description states about the API it describes."""

    prefix: str
    inputs: tuple[str, ...]
    max_batch: int
    max_body_bytes: int
    rate_per_minute: int


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_OK = {"description": "OK"}


def _answer() -> dict[str, Any]:
    """One image's answer (or, in a batch, its error)."""
    return {
        "type": "object",
        "properties": {
            "label": {"type": "integer", "minimum": 0, "maximum": 9},
            "class": {"type": "string", "enum": list(CLASS_NAMES)},
            "probabilities": {
                "type": "array",
                "items": {"type": "number"},
                "minItems": 10,
                "maxItems": 10,
                "description": "calibrated, in label order",
            },
            "not_garment": {
                "type": "boolean",
                "description": "the input is unlike the training images",
            },
            "file": {"type": "string", "description": "multipart only: the file's name"},
            "error": {"type": "string", "description": "instead of an answer: why not"},
        },
    }


def _head(api: Limits) -> dict[str, Any]:
    return {
        "model": {"type": "string"},
        "views": {"type": "string", "description": "the views of the image the model averages"},
        "input": {"type": "string", "enum": list(api.inputs)},
    }


def _parameters(api: Limits) -> list[dict[str, Any]]:
    return [
        {
            "name": "model",
            "in": "query",
            "schema": {"type": "string"},
            "description": "a shipped model (GET /api/models); default: the most accurate",
        },
        {
            "name": "input",
            "in": "query",
            "schema": {"type": "string", "enum": list(api.inputs), "default": "photo"},
            "description": "photo: the upload path (cut-out, 28x28); sketch: a drawing's "
            "path; dataset: already a 28x28 Fashion-MNIST image",
        },
    ]


def _predict(api: Limits) -> dict[str, Any]:
    answer, head = _answer(), _head(api)
    single = {**answer, "properties": answer["properties"] | head}
    batch = {
        "type": "object",
        "properties": head | {"results": {"type": "array", "items": answer}},
    }
    error = {
        "description": "refused, with the reason",
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
            }
        },
    }
    multipart = {
        "type": "object",
        "properties": {
            "file": {
                "type": "array",
                "maxItems": api.max_batch,
                "items": {"type": "string", "format": "binary"},
            }
        },
    }
    return {
        "summary": "Classify one image (raw body) or a batch (multipart, fields named 'file')",
        "parameters": _parameters(api),
        "requestBody": {
            "required": True,
            "content": {
                "image/*": _BINARY,
                "application/octet-stream": _BINARY,
                "multipart/form-data": {"schema": multipart},
            },
        },
        "responses": {
            "200": {
                "description": "the answer (raw body), or the answers in the order sent "
                "(multipart)",
                "content": {"application/json": {"schema": {"oneOf": [single, batch]}}},
            },
            **{str(status): error for status in (400, 413, 415, 422, 429, 503)},
        },
    }


def description(api: Limits) -> dict[str, Any]:
    """The whole OpenAPI document."""
    p = api.prefix
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fashion-MNIST classifier",
            "version": "1",
            "description": (
                "Classify garment images into the 10 Fashion-MNIST classes. At most "
                f"{api.rate_per_minute} requests a minute per client (then 429 with "
                f"Retry-After), {api.max_body_bytes // 2**20} MB per request, "
                f"{api.max_batch} images per batch."
            ),
        },
        "paths": {
            f"{p}/predict": {"post": _predict(api)},
            f"{p}/models": {
                "get": {
                    "summary": "The shipped models, most accurate first",
                    "responses": {"200": _OK},
                }
            },
            f"{p}/openapi.json": {
                "get": {"summary": "This description", "responses": {"200": _OK}}
            },
            f"{p}/ready": {
                "get": {
                    "summary": "503 while the server loads, 200 once it answers",
                    "responses": {"200": _OK, "503": {"description": "loading"}},
                }
            },
        },
    }
