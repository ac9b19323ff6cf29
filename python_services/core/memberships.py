"""Every query on `memberships`: a person's role (owner, agent, viewer) in
one tenant. The rules of what each role may do are in core/access.py."""
from __future__ import annotations

# a member as the admin API shows one: the person (never a password hash) and their role here
MEMBERS = ("SELECT u.id, u.email, m.role, m.created_at AS added_at, u.last_login_at, u.created_at"
           " FROM memberships m JOIN users u ON u.id = m.user_id")


def insert(cur, tenant_id, user_id, role: str) -> dict | None:
    """The new membership, or None when the person already belongs to the tenant."""
    cur.execute(
        "INSERT INTO memberships (tenant_id, user_id, role) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, user_id) DO NOTHING RETURNING *",
        (tenant_id, user_id, role),
    )
    return cur.fetchone()


def members(cur, tenant_id) -> list[dict]:
    """The tenant's people with their role (never a password hash)."""
    cur.execute(MEMBERS + " WHERE m.tenant_id = %s ORDER BY m.created_at, u.email", (tenant_id,))
    return cur.fetchall()


def member(cur, tenant_id, user_id, *, lock: bool = False) -> dict | None:
    cur.execute(MEMBERS + " WHERE m.tenant_id = %s AND m.user_id = %s" + (" FOR UPDATE OF m" if lock else ""),
                (tenant_id, user_id))
    return cur.fetchone()


def tenants_of(cur, user_id) -> list[dict]:
    """The tenants a person belongs to, with the role in each (the console's tenant picker)."""
    cur.execute(
        "SELECT t.id AS tenant_id, t.instance_name, t.business_name, m.role FROM memberships m"
        " JOIN tenants t ON t.id = m.tenant_id WHERE m.user_id = %s ORDER BY t.business_name, t.instance_name",
        (user_id,),
    )
    return cur.fetchall()


def role_of(cur, tenant_id, user_id) -> str | None:
    cur.execute("SELECT role FROM memberships WHERE tenant_id = %s AND user_id = %s", (tenant_id, user_id))
    row = cur.fetchone()
    return row["role"] if row else None


def owner_count(cur, tenant_id) -> int:
    """How many owners the tenant has (locking their rows, so two removals cannot both see two)."""
    cur.execute("SELECT user_id FROM memberships WHERE tenant_id = %s AND role = 'owner' FOR UPDATE",
                (tenant_id,))
    return len(cur.fetchall())


def delete(cur, tenant_id, user_id) -> bool:
    cur.execute("DELETE FROM memberships WHERE tenant_id = %s AND user_id = %s", (tenant_id, user_id))
    return cur.rowcount == 1


def count_for_user(cur, user_id) -> int:
    cur.execute("SELECT count(*) AS n FROM memberships WHERE user_id = %s", (user_id,))
    return cur.fetchone()["n"]
