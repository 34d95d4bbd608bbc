"""REST API of background jobs: `/api/v1/jobs/` (the caller's jobs, newest first), `/api/v1/jobs/{id}/` (state,
progress, result, error) and `POST /api/v1/jobs/{id}/cancel/`. A request that queues a job answers 202 with
`Location: /api/v1/jobs/{id}/`.

Who sees and who cancels a job: layers.jobs_access (submitter, the department's stewards, admins; others 404).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from . import jobs
from .jobs_access import may_cancel, visible_jobs
from .models import Job, JobState


class JobStateField(serializers.ChoiceField):
    """The job's state: the `JobStateEnum` of the schema (settings' ENUM_NAME_OVERRIDES names it apart from the
    other apps' `state` enums)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=JobState.choices, **kwargs)


class JobSerializer(serializers.ModelSerializer):
    """A job as its submitter sees it (never its parameters: they hold server paths)."""

    state = JobStateField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    layer = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    result = serializers.JSONField(read_only=True, allow_null=True,
                                   help_text=_lazy("成功时为任务结果（导入报告），失败时可含 errors"))

    cancel_requested = serializers.SerializerMethodField(
        help_text=_lazy("已请求取消：运行中的任务将在下一个进度点停止，且不留下任何修改"))

    class Meta:
        model = Job
        fields = ["id", "url", "kind", "layer", "state", "progress", "done", "total", "message", "cancel_requested",
                  "result", "error", "created_by", "created_at", "started_at", "finished_at", "attempts"]
        read_only_fields = fields

    def get_cancel_requested(self, job: Job) -> bool:
        return job.cancel_requested_at is not None

    def get_layer(self, job: Job) -> str | None:
        return (job.params or {}).get("layer")

    def get_url(self, job: Job) -> str:
        return location(job)


def location(job: Job) -> str:
    """The job's URL (what a 202 answer puts into `Location`)."""
    return f"/api/v1/jobs/{job.pk}/"


_ID_PARAMETER = OpenApiParameter("id", {"type": "integer", "minimum": 1, "maximum": 10**18 - 1},
                                 OpenApiParameter.PATH)
_CONFLICT = inline_serializer("JobCancelConflict", {"detail": serializers.CharField(),
                                                    "state": JobStateField()})


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
                   description=_lazy("当前用户提交的后台任务（数据管理员：含本部门的；管理员：全部），新的在前。"))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[_ID_PARAMETER],
                   description=_lazy("任务的状态、进度（0–100，及已完成/总数、说明）、结果与错误。"))
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(parameters=[_ID_PARAMETER], request=None,
                   responses={200: OpenApiResponse(JobSerializer, description=_lazy("排队中的任务已取消")),
                              202: OpenApiResponse(JobSerializer,
                                                   description=_lazy("运行中的任务已请求取消，将在下一个进度点停止并回滚")),
                              409: OpenApiResponse(_CONFLICT, description=_lazy("任务已结束，不能取消"))},
                   description=_lazy("取消任务（提交人、本部门数据管理员或管理员）。"))
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        job = self.get_object()  # 404 for a job the caller may not see
        if not may_cancel(request.user, job):
            raise PermissionDenied(_("只有提交人、本部门数据管理员或管理员可以取消任务"))
        outcome = jobs.cancel(job.pk)
        job.refresh_from_db()
        if outcome is None:
            return Response({"detail": _("任务已结束，不能取消"), "state": job.state}, status=status.HTTP_409_CONFLICT)
        code = status.HTTP_200_OK if outcome == "cancelled" else status.HTTP_202_ACCEPTED
        return Response(JobSerializer(job).data, status=code)
