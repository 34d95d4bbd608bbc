"""The review app's background job kind (discovered by layers.jobs): `review.batch`, every zoning plot against
the batch rules, run by `citygis run_jobs`."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from layers.jobs import Context, JobFailed, register

BATCH = "review.batch"


@register(BATCH)
def run_batch(ctx: Context) -> dict[str, Any]:
    from .access import may_review
    from .batch import LAYER, batch_review

    user = ctx.job.created_by
    if user is None or not may_review(user):
        raise JobFailed(_("提交任务的用户已不存在或无权审查"))
    ctx.progress(1)
    run = batch_review(user, progress=ctx.progress)
    return {"run": run.pk, "ruleset_version": run.ruleset_version, "plots": run.plots, "conflicts": run.conflicts,
            "by_rule": run.summary, "layer": LAYER}


CHANGES = "review.farmland_change"


@register(CHANGES)
def run_changes(ctx: Context) -> dict[str, Any]:
    from .access import may_review
    from .changes import farmland_changes, run_json
    from .redline import RedlineError

    user = ctx.job.created_by
    if user is None or not may_review(user):
        raise JobFailed(_("提交任务的用户已不存在或无权审查"))
    ctx.progress(1)
    try:
        run = farmland_changes(ctx.job.params["before"], ctx.job.params["after"], user)
    except RedlineError as exc:
        raise JobFailed(exc.message, result={"errors": {exc.field: exc.message}}) from exc
    out = run_json(run)
    out["started_at"] = out["started_at"].isoformat()
    return out
