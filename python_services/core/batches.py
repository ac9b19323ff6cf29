"""Deleting old rows a batch at a time (retention): each table module names
its own rows and conditions; the shape of the statement is here once.

Per tenant, the oldest rows before that tenant's cutoff, at most `limit` in
all; rows another transaction holds are skipped (left for the next batch),
so pruning never waits on, or holds up, a webhook."""
from __future__ import annotations


def delete_before_cutoffs(cur, *, table: str, key: str, age: str, cutoffs: dict, limit: int,
                          also: str = "") -> int:
    """Deletes up to `limit` rows of `table` (alias t) whose `age` column is
    before their tenant's cutoff ({tenant_id: cutoff}) and that meet `also`
    (SQL over t and r.cutoff, or empty); returns how many went. The names
    are this module's callers' constants, never input."""
    condition = f" AND {also}" if also else ""
    cur.execute(
        f"DELETE FROM {table} WHERE ({key}) IN (SELECT pick.* FROM"
        " unnest(%(tenants)s::uuid[], %(cutoffs)s::timestamptz[]) AS r(tenant_id, cutoff)"
        f" CROSS JOIN LATERAL (SELECT {', '.join('t.' + k.strip() for k in key.split(','))} FROM {table} t"
        f" WHERE t.tenant_id = r.tenant_id AND t.{age} < r.cutoff{condition}"
        f" ORDER BY t.{age} LIMIT %(limit)s FOR UPDATE SKIP LOCKED) pick LIMIT %(limit)s)",
        {"tenants": [str(t) for t in cutoffs], "cutoffs": list(cutoffs.values()), "limit": limit},
    )
    return cur.rowcount
