"""JSON Schema -> the OpenAPI subset Gemini accepts (tool parameters, response schema).

Conservative by construction: an allowlist of keys is kept and everything else
(``additionalProperties``, ``$schema``, ``$id``, ``examples``, ...) is dropped, since
Gemini answers an unknown key with a 400. Local ``$ref``s into ``$defs`` /
``definitions`` are inlined; ``["string", "null"]`` becomes ``nullable``; ``const``
becomes a one-value ``enum``.
"""

from __future__ import annotations

from typing import Any

from zdrgate.errors import InvalidRequest

_MAX_DEPTH = 24
_COPIED = (
    "title",
    "description",
    "nullable",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "default",
    "example",
    "propertyOrdering",
)
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "INTEGER": {"int32", "int64"},
    "NUMBER": {"float", "double"},
}
_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def gemini_schema(schema: Any, param: str) -> dict[str, Any]:
    """``schema`` cleaned for Gemini; ``param`` names the request field on errors."""
    if not isinstance(schema, dict):
        raise InvalidRequest("A JSON schema must be an object.", param=param)
    defs = {**_dict(schema.get("definitions")), **_dict(schema.get("$defs"))}
    return _Cleaner(defs, param).clean(schema, 0)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Cleaner:
    def __init__(self, defs: dict[str, Any], param: str) -> None:
        self.defs = defs
        self.param = param

    def clean(self, schema: Any, depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise InvalidRequest(
                f"The JSON schema is nested (or recursive) deeper than {_MAX_DEPTH} levels.",
                param=self.param,
            )
        if not isinstance(schema, dict):
            return {}
        if isinstance(schema.get("$ref"), str):
            return self.clean(self._resolve(schema["$ref"]), depth + 1)
        out: dict[str, Any] = {k: schema[k] for k in _COPIED if k in schema}
        self._type(schema, out)
        self._enum(schema, out)
        self._children(schema, out, depth)
        return out

    def _resolve(self, ref: str) -> Any:
        for prefix in ("#/$defs/", "#/definitions/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in self.defs:
                return self.defs[ref[len(prefix) :]]
        raise InvalidRequest("A JSON schema $ref must point into $defs.", param=self.param)

    def _type(self, schema: dict[str, Any], out: dict[str, Any]) -> None:
        raw = schema.get("type")
        types = [raw] if isinstance(raw, str) else [t for t in raw or () if isinstance(t, str)]
        if "null" in types:
            out["nullable"] = True
        kept = [t for t in types if t in _TYPES]
        if len(kept) == 1:
            out["type"] = kept[0].upper()
        elif len(kept) > 1:
            out["anyOf"] = [{"type": t.upper()} for t in kept]
        fmt = schema.get("format")
        if "type" in out and fmt in _FORMATS.get(out["type"], ()):
            out["format"] = fmt

    def _enum(self, schema: dict[str, Any], out: dict[str, Any]) -> None:
        values = [schema["const"]] if "const" in schema else schema.get("enum")
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            out["enum"] = values
            out.setdefault("type", "STRING")
            if out["type"] == "STRING":
                out["format"] = "enum"

    def _children(self, schema: dict[str, Any], out: dict[str, Any], depth: int) -> None:
        props = schema.get("properties")
        if isinstance(props, dict):
            out["properties"] = {
                str(k): self.clean(v, depth + 1) for k, v in props.items() if isinstance(v, dict)
            }
            required = schema.get("required")
            if isinstance(required, list):
                out["required"] = [r for r in required if r in out["properties"]]
        if isinstance(schema.get("items"), dict):
            out["items"] = self.clean(schema["items"], depth + 1)
        options = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(options, list) and options:
            out["anyOf"] = [self.clean(o, depth + 1) for o in options if isinstance(o, dict)]
        every = schema.get("allOf")
        if isinstance(every, list) and len(every) == 1:
            out.update(self.clean(every[0], depth + 1))
