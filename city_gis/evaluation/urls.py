"""URL routes of the evaluation app (mounted under /api/v1/ by city_gis/urls.py)."""

from django.urls import path

from .api import DrilldownView, EvaluationView, ExportView

urlpatterns = [
    path("evaluation/", EvaluationView.as_view(), name="evaluation"),
    path("evaluation/drilldown/", DrilldownView.as_view(), name="evaluation-drilldown"),
    path("evaluation/export/", ExportView.as_view(), name="evaluation-export"),
]
