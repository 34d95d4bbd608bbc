"""Field app API routes under /api/v1/ (mounted by city_gis/urls.py)."""

from django.urls import path

from . import auth, media, reports, sync, tasks

urlpatterns = [
    path("auth/token/", auth.TokenView.as_view(), name="auth-token"),
    path("reports/", reports.ReportView.as_view(), name="field-reports"),
    path("tasks/", tasks.TaskListView.as_view(), name="field-tasks"),
    path("tasks/<int:pk>/complete/", tasks.TaskCompleteView.as_view(), name="field-task-complete"),
    path("sync/", sync.SyncView.as_view(), name="field-sync"),
    path("cases/<int:case_id>/photos/<int:pk>/", media.CasePhotoView.as_view(), name="field-case-photo"),
]
