"""REST API of background jobs: `/api/v1/jobs/` (the caller's jobs, newest first) and `/api/v1/jobs/{id}/` (state,
progress, result, error). A request that queues a job answers 202 with `Location: /api/v1/jobs/{id}/`.

Who: a job is seen by whoever submitted it, and by admins; anybody else gets 404.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.exceptions import ValidationError

from .access import is_admin
from .models import Job, JobState


@extend_schema_field({"type": "string", "enum": list(JobState.values)})
class JobStateField(serializers.CharField):
    """The job's state, documented inline (a shared `state` enum name would collide with other apps')."""


class JobSerializer(serializers.ModelSerializer):
    """A job as its submitter sees it (never its parameters: they hold server paths)."""

    state = JobStateField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    layer = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    result = serializers.JSONField(read_only=True, allow_null=True,
                                   help_text=_lazy("成功时为任务结果（导入报告），失败时可含 errors"))

    class Meta:
        model = Job
        fields = ["id", "url", "kind", "layer", "state", "progress", "result", "error", "created_by", "created_at",
                  "started_at", "finished_at", "attempts"]
        read_only_fields = fields

    def get_layer(self, job: Job) -> str | None:
        return (job.params or {}).get("layer")

    def get_url(self, job: Job) -> str:
        return location(job)


def location(job: Job) -> str:
    """The job's URL (what a 202 answer puts into `Location`)."""
    return f"/api/v1/jobs/{job.pk}/"


def visible_jobs(user):
    """The jobs `user` may see: their own; every job for admins; none for anonymous callers."""
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    if is_admin(user):
        return Job.objects.all()
    return Job.objects.filter(created_by=user)


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`/api/v1/jobs/`"""

    serializer_class = JobSerializer
    permission_classes = [permissions.IsAuthenticated]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        qs = visible_jobs(self.request.user).select_related("created_by").order_by("-created_at", "-id")
        state = self.request.query_params.get("state")
        if state:
            if state not in JobState.values:
                raise ValidationError({"state": _("取 %(v)s 之一") % {"v": ", ".join(JobState.values)}})
            qs = qs.filter(state=state)
        return qs

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=list(JobState.values))],
                   description=_lazy("当前用户提交的后台任务（管理员：全部），新的在前。"))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[OpenApiParameter("id", {"type": "integer", "minimum": 1, "maximum": 10**18 - 1},
                                                OpenApiParameter.PATH)],
                   description=_lazy("任务的状态、进度（0–100）、结果与错误。"))
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)
