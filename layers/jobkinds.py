"""The registry's background job kinds (discovered by layers.jobs): `layers.import`, a file import run by a worker.

The API (layers.api) saves the upload into the job's folder and queues the job with what the synchronous import
would have been called with; the worker calls the same layers.importer.import_file, whose single transaction
keeps a failed job from leaving anything half-applied (no rows, no version).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from .importer import LayerCreate, LayerImportError, import_file
from .jobs import Context, JobFailed, register

IMPORT = "layers.import"


def import_params(*, file: str, name: str, layer: str, user, create: LayerCreate | None = None,
                  srs: str | None = None, mode: str = "append", skip_rejected: bool = False, comment: str = "",
                  key: str | None = None) -> dict[str, Any]:
    """The JSON parameters of an import job (`file`: the upload's name in the job folder, `name`: the client's)."""
    return {"file": file, "name": name, "layer": layer, "as_user": user is not None,
            "create": create.__dict__ if create else None, "srs": srs, "mode": mode,
            "skip_rejected": skip_rejected, "comment": comment, "key": key}


@register(IMPORT)
def run_import(ctx: Context) -> dict[str, Any]:
    p = ctx.job.params
    user = ctx.job.created_by
    if p.get("as_user") and user is None:
        raise JobFailed(_("提交任务的用户已不存在"))
    path = ctx.folder / p["file"]

    def on_progress(done: int, total: int | None) -> None:
        # rows of a file read in chunks are unknown up front: approach 95 % instead
        ctx.progress(5 + 90 * done / total if total else 5 + 90 * done / (done + 50_000), done=done, total=total)

    ctx.progress(1)
    try:
        report = import_file(path, p["layer"], user=user, create=LayerCreate(**p["create"]) if p.get("create") else None,
                             srs=p.get("srs"), mode=p.get("mode", "append"), skip_rejected=p.get("skip_rejected", False),
                             comment=p.get("comment", ""), key=p.get("key"), on_progress=on_progress)
    except LayerImportError as exc:
        message = str(exc).replace(str(path), p["name"])
        errors: dict[str, Any] = {exc.field: message}
        if exc.report:
            errors["report"] = exc.report
        raise JobFailed(message, result={"errors": errors}) from exc
    except PermissionError as exc:
        raise JobFailed(str(exc), result={"errors": {"detail": str(exc)}}) from exc
    return report.to_dict()
