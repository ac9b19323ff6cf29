"""People and their logins: passwords, console sessions, failed-login
throttling, and adding or removing a person from a tenant. Plain functions
over a cursor inside the caller's transaction; the console's login page and
the admin API's users endpoints call them (each table's SQL is in its own
module: users, memberships, web_sessions, login_failures).

- Passwords: at least MIN_PASSWORD_CHARS characters (12: length is what
  makes a password hard to guess; no composition rules), at most
  MAX_PASSWORD_CHARS. Hashed with scrypt through werkzeug
  (generate_password_hash(method="scrypt"): N=2^15, r=8, p=1, a random salt;
  about 0.1 s a check on a 2-core machine). A password is never stored,
  logged or returned.
- No enumeration: an unknown e-mail and a wrong password get the same
  error, and take as long (a dummy hash is checked for an unknown e-mail).
- Throttling, shared by every worker through Postgres (login_failures):
  past LOGIN_MAX_FAILURES_PER_ACCOUNT failures for one e-mail, or
  LOGIN_MAX_FAILURES_PER_ADDRESS from one address, within
  LOGIN_FAILURE_WINDOW_MINUTES, logins there are refused with 429 and a
  Retry-After until the oldest failure leaves the window; a refused attempt
  is not checked and not counted (so waiting out the window always works).
  A successful login clears the account's count.
- Sessions: server-side (web_sessions); they end when idle for
  CONSOLE_SESSION_IDLE_MINUTES, at CONSOLE_SESSION_MAX_HOURS after login
  whatever happens, at logout, and all of a person's at once when their
  password changes or they are removed from a tenant.
- CSRF protection of the console's forms belongs to the console (its forms
  post with the session cookie); API tokens are sent as a header, which a
  cross-site form cannot set.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from ..common import db
from ..common.errors import ApiError, bad_request
from ..common.params import UNSTORABLE
from . import login_failures, memberships, users, web_sessions

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
HASH_METHOD = "scrypt"
LOGIN_FAILED = "wrong e-mail or password"


class LoginRefused(ApiError):
    """Wrong e-mail or password (never which of the two)."""

    def __init__(self):
        super().__init__(401, "login_failed", LOGIN_FAILED)


class LoginThrottled(ApiError):
    """Too many failed logins lately for this account or address."""

    def __init__(self, retry_after: int):
        super().__init__(429, "too_many_attempts",
                         f"too many failed logins; try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoginPolicy:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    window_seconds: float = 15 * 60
    # keys the hash under which an e-mail typed at a failed login is kept
    key: bytes = b"hybridflow"

    @classmethod
    def from_config(cls, cfg) -> "LoginPolicy":
        return cls(cfg.login_max_failures_per_account, cfg.login_max_failures_per_address,
                   cfg.login_failure_window_minutes * 60,
                   hashlib.sha256(b"hybridflow login failures\x00" + cfg.service_token.encode()).digest())


@dataclass(frozen=True)
class SessionPolicy:
    idle_seconds: float = 120 * 60
    max_age_seconds: float = 12 * 3600

    @classmethod
    def from_config(cls, cfg) -> "SessionPolicy":
        return cls(cfg.console_session_idle_minutes * 60, cfg.console_session_max_hours * 3600)


# ---------------------------------------------------------------- passwords


def check_new_password(password, field: str = "password") -> str:
    """The password, or the 400 that says what is wrong with it (never the password)."""
    if not isinstance(password, str) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise bad_request(f"{field} must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters", field)
    return password


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # checked for an unknown e-mail, so that it takes as long as a wrong password
    return hash_password("no such user: the timing must match a real check")


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Checks against the stored hash, or against a dummy one when there is
    none: the same work either way."""
    matches = check_password_hash(stored_hash or _dummy_hash(), password)
    return matches and stored_hash is not None


def account_key(email: str, policy: LoginPolicy) -> str:
    return hmac.new(policy.key, users.normal_email(email).encode("utf-8", "surrogatepass"), "sha256").hexdigest()


# ---------------------------------------------------------------- login


def check_login(cur, email: str, password: str, address: str, policy: LoginPolicy = LoginPolicy()) -> dict | ApiError:
    """The person (id, email, ...; never the hash) whose e-mail and password
    these are, or the error to answer once the transaction is committed (so a
    failure stays counted): LoginRefused, or LoginThrottled when this account
    or address failed too often lately (then the password is not even checked)."""
    key = account_key(email if isinstance(email, str) else "", policy)
    login_failures.lock_account(cur, key)
    recent = login_failures.recent(cur, key, address, policy.window_seconds)
    ends = []
    if recent["account"] >= policy.max_failures_per_account:
        ends.append(recent["account_until"])
    if recent["address"] >= policy.max_failures_per_address:
        ends.append(recent["address_until"])
    if ends:
        return LoginThrottled(max(1, int((max(ends) - recent["now"]).total_seconds()) + 1))
    # an e-mail Postgres cannot hold (a NUL, a lone surrogate) matches nobody: refused like any other
    storable = isinstance(email, str) and len(email) <= 254 and not UNSTORABLE.search(email)
    user = users.by_email(cur, email) if storable else None
    ok = password_matches(user["password_hash"] if user else None, password if isinstance(password, str) else "")
    if not ok:
        login_failures.record(cur, key, address, policy.window_seconds)
        return LoginRefused()
    login_failures.forget_account(cur, key)
    return {k: v for k, v in user.items() if k != "password_hash"}


def authenticate(email: str, password: str, address: str, policy: LoginPolicy | None = None, app=None) -> dict:
    """check_login in a transaction of its own: the person, or LoginRefused /
    LoginThrottled raised after the failure is committed. The console's
    login then calls start_session for the person."""
    if policy is None:
        policy = LoginPolicy.from_config((app or current_app).config["HF"])
    with db.transaction(app) as cur:
        outcome = check_login(cur, email, password, address, policy)
    if isinstance(outcome, ApiError):
        raise outcome
    return outcome


def start_session(cur, user_id, policy: SessionPolicy = SessionPolicy(), *, address: str = "",
                  user_agent: str = "") -> tuple[str, dict]:
    """A console session for the person: the id for the cookie (HttpOnly,
    SameSite=Lax, Secure behind TLS; shown this once) and its row."""
    web_sessions.forget_ended(cur, user_id)
    users.mark_logged_in(cur, user_id)
    return web_sessions.insert(cur, user_id, max_age_seconds=policy.max_age_seconds, address=address,
                               user_agent=user_agent)


def session_user(cur, session_id, policy: SessionPolicy = SessionPolicy()) -> dict | None:
    """The person a live session belongs to, with the tenants they may pick
    ({"user", "session", "tenants"}); None for no, an unknown or an ended session."""
    if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
        return None
    session = web_sessions.alive(cur, session_id, policy.idle_seconds)
    if session is None:
        return None
    user = users.by_id(cur, session["user_id"])
    if user is None:
        return None
    return {"user": user, "session": session, "tenants": memberships.tenants_of(cur, user["id"])}


def end_session(cur, session_id) -> bool:
    """Logout."""
    return isinstance(session_id, str) and web_sessions.revoke(cur, session_id)


def change_password(cur, user_id, new_password: str) -> dict | None:
    """A new password; every session of the person ends (they log in again)."""
    check_new_password(new_password)
    user = users.set_password_hash(cur, user_id, hash_password(new_password))
    if user is not None:
        web_sessions.revoke_all_of(cur, user_id)
    return user


# ---------------------------------------------------------------- people of a tenant


def add_member(cur, tenant_id, email: str, password: str | None, role: str) -> tuple[dict, bool]:
    """Adds the person with this e-mail to the tenant with `role`: a new
    account with `password` when the e-mail has none; an existing one keeps
    its own password (nobody changes another person's password this way).
    Returns (the member, whether the account is new); 409 when the person
    already belongs to the tenant."""
    user = users.by_email(cur, email)
    created = user is None
    if created:
        if password is None:
            raise bad_request("password is required for a new account", "password")
        user = users.insert(cur, email, hash_password(check_new_password(password)))
        if user is None:  # made meanwhile by another request
            user, created = users.by_email(cur, email), False
    if memberships.insert(cur, tenant_id, user["id"], role) is None:
        raise ApiError(409, "conflict", f"{users.normal_email(email)} already belongs to this tenant", "email")
    return memberships.member(cur, tenant_id, user["id"]), created


def remove_member(cur, tenant_id, user_id) -> dict | None:
    """Removes the person from the tenant and ends all their console
    sessions at once; an account left in no tenant is deleted. None when the
    person is not a member; 409 for the tenant's last owner."""
    member = memberships.member(cur, tenant_id, user_id, lock=True)
    if member is None:
        return None
    if member["role"] == "owner" and memberships.owner_count(cur, tenant_id) <= 1:
        raise ApiError(409, "last_owner", "the tenant's last owner cannot be removed; add another owner first",
                       "user_id")
    memberships.delete(cur, tenant_id, user_id)
    web_sessions.revoke_all_of(cur, user_id)
    if memberships.count_for_user(cur, user_id) == 0:
        users.delete(cur, user_id)
    return member
