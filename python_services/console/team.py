"""The team page (/console/t/<tenant_id>/team), owners only: the business's
people and their roles (add with e-mail, password and role; remove) and
its API tokens (make one, shown once on the page that follows and never
again; list; revoke). The same core functions as the admin API
(core/team.py: each change in the timeline), the same request models
(core/api_models_people.py), so a form is checked as a JSON body is."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request

from ..common import db
from ..common.errors import ApiError
from ..common.params import check_storable, found, path_uuid
from ..common.validation import validated
from ..core import api_tokens, memberships, team
from ..core.access import ROLES
from ..core.accounts import MIN_PASSWORD_CHARS
from ..core.api_models_people import NewMember, NewToken
from . import guard

bp = Blueprint("team", __name__, url_prefix="/console/t/<tenant_id>")

ROLE_WORDS = {"owner": "Owner: everything", "agent": "Agent: also pauses chats", "viewer": "Viewer: reads only"}


def render(*, errors=None, posted=None, done=None, status: int = 200, headers=None):
    with db.transaction() as cur:
        people = memberships.members(cur, g.tenant["id"])
        tokens = api_tokens.of_tenant(cur, g.tenant["id"])
    page = render_template("team.html", people=people, tokens=tokens, roles=ROLES, role_words=ROLE_WORDS,
                           errors=errors or {}, posted=posted or {}, done=done,
                           min_password=MIN_PASSWORD_CHARS)
    return page, status, headers or {}


def _form(*names) -> dict:
    """The posted fields as a body for the admin API's model (an empty one left out: "not given")."""
    body = {}
    for name in names:
        value = request.form.get(name, "")
        check_storable(name, value)
        if value != "":
            body[name] = value
    return body


def _refused(err: ApiError, form: str, posted: dict):
    """The page again with the message next to the field it names (the form's own, else the form's top)."""
    return render(errors={f"{form}.{err.field or 'form'}": err.message}, posted={form: posted},
                  status=err.status)


@bp.get("/team")
@guard.tenant_page("users.manage")
def show(tenant_id):
    return render()


@bp.post("/team/people")
@guard.tenant_page("users.manage")
def add_person(tenant_id):
    posted = {"email": request.form.get("email", ""), "role": request.form.get("role", "")}
    try:
        body = validated(NewMember, _form("email", "password", "role"), what="a field of this form")
        password = body.password.get_secret_value() if body.password is not None else None
        with db.transaction() as cur:
            member, _created = team.add_person(cur, tenant_id, body.email, password, body.role,
                                               actor=g.principal.label)
    except ApiError as err:
        return _refused(err, "person", posted)
    # the same words whether the e-mail had an account on the platform or not: a
    # shop's owner learns nothing about other shops' people (the form's help says
    # that an existing account keeps its own password)
    return render(done=f"{member['email']} added as {member['role']}.")


@bp.post("/team/people/<user_id>/remove")
@guard.tenant_page("users.manage")
def remove_person(tenant_id, user_id):
    user_id = path_uuid(user_id, "person")
    try:
        with db.transaction() as cur:
            member = found(team.remove_person(cur, tenant_id, user_id, actor=g.principal.label), "person", user_id)
    except ApiError as err:
        if err.status == 404:
            raise
        return render(errors={"people.form": err.message}, status=err.status)
    return render(done=f"{member['email']} removed from the team.")


@bp.post("/team/tokens")
@guard.tenant_page("tokens.manage")
def make_token(tenant_id):
    posted = {"name": request.form.get("name", ""), "role": request.form.get("role", "")}
    try:
        body = validated(NewToken, _form("name", "role"), what="a field of this form")
        with db.transaction() as cur:
            row, token = team.make_token(cur, tenant_id, body.name, body.role, actor=g.principal.label)
    except ApiError as err:
        return _refused(err, "token", posted)
    # the one time the token is shown: never cached, never in a URL
    page = render_template("team_token_created.html", row=row, token=token)
    return page, 201, {"Cache-Control": "no-store"}


@bp.post("/team/tokens/<token_id>/revoke")
@guard.tenant_page("tokens.manage")
def revoke_token(tenant_id, token_id):
    token_id = path_uuid(token_id, "token")
    with db.transaction() as cur:
        row = found(team.revoke_token(cur, tenant_id, token_id, actor=g.principal.label), "token", token_id)
    return render(done=f"Token {row['name']!r} revoked: it is refused from now on.")
