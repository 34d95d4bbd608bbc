"""GET /api/v1/sync/?since=…: what changed for this user, so an app that was offline catches up."""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import domain
from .serializers import ErrorSerializer
from .tasks import TaskSerializer, task_of

MAX_CASES = 1000


class CaseStateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    updated_at = serializers.DateTimeField()
    next_deadline = serializers.DateTimeField(allow_null=True)


class SyncSerializer(serializers.Serializer):
    server_time = serializers.DateTimeField(help_text=_("下次同步时作为 since 传回"))
    since = serializers.DateTimeField(allow_null=True)
    tasks = TaskSerializer(many=True, help_text=_("自 since 以来新增或变化的任务"))
    task_ids = serializers.ListField(child=serializers.IntegerField(), help_text=_("当前全部任务编号（用于删除已完成的任务）"))
    cases = CaseStateSerializer(many=True, help_text=_("自 since 以来状态变化的、与我相关的案卷"))
    complete = serializers.BooleanField(help_text=_("false 表示变化过多被截断，请以 server_time 之前的时间再同步"))


class SyncView(APIView):
    @extend_schema(
        operation_id="sync",
        parameters=[OpenApiParameter("since", str, description=_("ISO 8601 时间；缺省为全部"))],
        responses={200: SyncSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        summary=_("离线同步"),
    )
    def get(self, request):
        # Taken before reading: anything changing during this request shows up again next time, never lost.
        now = timezone.now()
        raw = request.query_params.get("since")
        since = None
        if raw:
            try:
                since = parse_datetime(raw.replace(" ", "+"))
            except ValueError:  # well-formed but impossible, e.g. 2026-02-30
                since = None
            if since is None:
                raise ValidationError({"since": [_("需要 ISO 8601 时间，如 2026-11-25T08:00:00+08:00。")]})
            if timezone.is_naive(since):
                since = timezone.make_aware(since)
        user = request.user
        tasks = domain.task_cases(user).select_related("category")
        task_ids = list(tasks.order_by("id").values_list("id", flat=True))
        changed_tasks = tasks.filter(updated_at__gte=since) if since else tasks
        cases = domain.visible_cases(user)
        if since:
            cases = cases.filter(updated_at__gte=since)
        rows = list(cases.order_by("updated_at", "id")[: MAX_CASES + 1])
        complete = len(rows) <= MAX_CASES
        rows = rows[:MAX_CASES]
        return Response(SyncSerializer({
            "server_time": now if complete else rows[-1].updated_at,
            "since": since,
            "tasks": [task_of(c, user) for c in changed_tasks.order_by("stage_deadline", "id")[:MAX_CASES]],
            "task_ids": task_ids,
            "cases": [{"id": c.pk, "number": c.number, "state": c.state, "state_label": c.get_state_display(),
                       "updated_at": c.updated_at, "next_deadline": c.stage_deadline} for c in rows],
            "complete": complete,
        }).data)
