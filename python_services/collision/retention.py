"""POST /cron/prune: deletes what is older than each tenant's
retention_days (and flow failures older than FLOW_ERRORS_RETENTION_DAYS),
a batch at a time; the prune flow calls it on a schedule, and so can anyone
holding the service token. The rules are in core/retention.py."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..common.auth import protect, require_service_or_admin_token
from ..common.logs import log_context
from ..common.openapi import Operation, documented
from ..core.retention import Pruning, cutoff, prune_tenant_data
from . import flow_errors

bp = Blueprint("retention", __name__)
protect(bp, require_service_or_admin_token)


def prune(cfg, now=None) -> dict:
    """One call's worth: at most PRUNE_MAX_BATCHES statements of PRUNE_BATCH_SIZE rows."""
    pruning = Pruning(cfg.prune_batch_size, cfg.prune_max_batches)
    prune_tenant_data(pruning, now)
    flow_errors_before = cutoff(cfg.flow_errors_retention_days, now)
    pruning.run("flow_errors", lambda cur, limit: flow_errors.prune_older_than(cur, flow_errors_before, limit))
    return pruning.answer()


@bp.post("/cron/prune")
@documented(Operation("Delete what is older than each tenant's retention_days", ("schedules",), errors=(401,),
                      access="the service token (the prune flow) or ADMIN_TOKEN", service_token=True,
                      description="A few batches a call: the answer's `more` says whether to call again."))
def prune_old_data():
    answer = prune(current_app.config["HF"])
    log_context(outcome=f"pruned={answer['total']} more={str(answer['more']).lower()}")
    return jsonify(answer)
