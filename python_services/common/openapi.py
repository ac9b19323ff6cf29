"""An OpenAPI 3.1 document assembled from the Flask routes themselves and
pydantic's own JSON Schema (OpenAPI 3.1's schemas are JSON Schema 2020-12,
which pydantic writes). A route says what it takes and answers with
@documented(Operation(...)); document() walks the app's url_map, so a route
without it is listed as `x-undescribed` (and the tests refuse that).

Why not spectree or flask-openapi3: both wrap the routes and answer a
refused request with their own error shape (422 and pydantic's error list),
where the admin API keeps its 400 {"error": {"code", "message", "field"}};
what they would add here is this one walk over the url_map."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

METHODS = ("get", "post", "put", "patch", "delete")
STATUS_TEXT = {200: "OK", 201: "Created", 400: "Bad request: the field is named in error.field",
               401: "Missing or wrong token", 403: "The token's role may not do this",
               404: "No such id (or another tenant's)", 409: "Conflict", 429: "Too many requests",
               503: "Busy: try again (Retry-After)"}


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: tuple[str, ...] = ()
    description: str = ""
    # who may call it, in words ("viewer, agent, owner; the platform admin")
    access: str = ""
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = (400, 401, 404)
    path_params: dict[str, str] = field(default_factory=dict)
    # answered without a token (the document and its page describe, they hold no data)
    public: bool = False
    content_type: str = "application/json"
    # also (or instead) the services' X-Service-Token
    service_token: bool = False
    # a file upload instead of a JSON body: the multipart/form-data field's name and what it takes
    upload: str = ""
    upload_description: str = ""


UNDESCRIBED = Operation("(not described yet)", errors=(400, 401, 403, 404))


def documented(operation: Operation):
    """Attaches the operation to a view function (for document())."""
    def attach(view):
        view.openapi = operation
        return view
    return attach


def openapi_path(rule: str) -> str:
    """/api/tenants/<tenant_id> -> /api/tenants/{tenant_id}"""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# the admin API: /api/..., and the schedules' endpoints ADMIN_TOKEN may call too
PREFIXES = ("/api/", "/cron/")


def routes(app, prefixes: tuple[str, ...] = PREFIXES) -> list[tuple[str, str, object]]:
    """(path, method, view) for every route of the app under `prefixes`."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefixes):
            continue
        for method in sorted(m.lower() for m in rule.methods if m.lower() in METHODS):
            found.append((openapi_path(rule.rule), method, app.view_functions[rule.endpoint]))
    return found


def _without_impossible_defaults(schema):
    """Drops `"default": null` where null is not allowed: a field a PATCH may
    leave out (default None) but may not set to null."""
    if isinstance(schema, dict):
        if schema.get("default", ...) is None and "type" in schema and "null" not in (
                schema["type"] if isinstance(schema["type"], list) else [schema["type"]]):
            schema = {k: v for k, v in schema.items() if k != "default"}
        if schema.get("default", ...) is None and ("$ref" in schema or "allOf" in schema or "enum" in schema):
            schema = {k: v for k, v in schema.items() if k != "default"}
        return {k: _without_impossible_defaults(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_without_impossible_defaults(v) for v in schema]
    return schema


def _models(operations) -> list[type[BaseModel]]:
    seen = []
    for op in operations:
        for model in (op.body, op.answer):
            if model is not None and model not in seen:
                seen.append(model)
    return seen


def _parameters(op: Operation, path: str) -> list[dict]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "string", "format": "uuid"} if name.endswith("_id") else {"type": "string"},
               **({"description": op.path_params[name]} if name in op.path_params else {})}
              for name in re.findall(r"{([^}]+)}", path)]
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            # optional: the parameter is left out, never sent as null
            options = [p for p in prop.get("anyOf", ()) if p.get("type") != "null"]
            if len(options) == 1 and len(prop["anyOf"]) == 2:
                prop = {**options[0], **{k: v for k, v in prop.items() if k not in ("anyOf", "default")}}
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                           **({"description": description} if description else {})})
    return params


def _operation(op: Operation, path: str, method: str, refs: dict) -> dict:
    out = {"operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
           "summary": op.summary, "tags": list(op.tags)}
    if op is UNDESCRIBED:
        out["x-undescribed"] = True
    description = op.description
    if op.access:
        description = f"**Who:** {op.access}\n\n{description}".strip()
    if description:
        out["description"] = description
    params = _parameters(op, path)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required,
                              "content": {"application/json": {"schema": refs[op.body]}}}
    elif op.upload:
        field_schema = {"type": "string", "format": "binary",
                        **({"description": op.upload_description} if op.upload_description else {})}
        out["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "properties": {op.upload: field_schema}, "required": [op.upload]}}}}
    ok = {"description": STATUS_TEXT.get(op.status, "OK")}
    if op.content_type != "application/json":
        ok["content"] = {op.content_type: {"schema": {"type": "string"}}}
    elif op.answer is not None:
        ok["content"] = {"application/json": {"schema": refs[op.answer]}}
    responses = {str(op.status): ok}
    for status in op.errors:
        responses[str(status)] = {"description": STATUS_TEXT[status],
                                  "content": {"application/json": {"schema": refs["Error"]}}}
    out["responses"] = responses
    if op.public:
        out["security"] = []
    elif op.service_token:
        out["security"] = [{"bearer": []}, {"serviceToken": []}]
    return out


def document(app, *, title: str, version: str, description: str, error_model: type[BaseModel],
             extra: list[tuple[str, str, Operation]] = (), servers: list[dict] | None = None,
             tags: tuple[str, ...] = ()) -> dict:
    """The OpenAPI 3.1 document of the app's /api/ routes (each must carry an
    Operation) and of `extra` ones served elsewhere behind the same door."""
    # a route nobody described yet is still listed (tests refuse it: x-undescribed), never a 500 here
    listed = [(path, method, getattr(view, "openapi", None) or UNDESCRIBED) for path, method, view in routes(app)]
    listed += list(extra)
    models = [error_model, *_models(op for _, _, op in listed)]
    mapping, defs = models_json_schema([(m, "validation") for m in models],
                                       ref_template="#/components/schemas/{model}")
    refs = {m: mapping[(m, "validation")] for m in models}
    refs["Error"] = refs[error_model]
    paths: dict[str, dict] = {}
    for path, method, op in sorted(listed, key=lambda item: (item[0], METHODS.index(item[1]))):
        paths.setdefault(path, {})[method] = _operation(op, path, method, refs)
    doc = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": _without_impossible_defaults(defs.get("$defs", {})),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "ADMIN_TOKEN (the platform admin) or a tenant's API "
                                                          "token (hft_...)"},
                                "serviceToken": {"type": "apiKey", "in": "header", "name": "X-Service-Token",
                                                 "description": "SERVICE_TOKEN: n8n's flows and the services"}},
        },
        "security": [{"bearer": []}],
    }
    if tags:  # the order the pages show them in
        doc["tags"] = [{"name": tag} for tag in tags]
    if servers:
        doc["servers"] = servers
    return doc
