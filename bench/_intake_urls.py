"""URLconf of the intake bench: the project's routes plus the baseline — a view that only inserts a row.

The baseline goes through the same stack (gunicorn, middleware, token auth, JSON parsing, one INSERT) so
the ratio isolates what report intake adds: validation, geocoding, numbering, history, duplicate search.
"""

from django.urls import path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.report_intake import BASELINE_HASH
from city_gis.urls import urlpatterns as project_urlpatterns
from field_app_api.models import ReportReceipt


class _Body(serializers.Serializer):
    client_uuid = serializers.UUIDField()


class MinimalInsertView(APIView):
    def post(self, request):
        body = _Body(data=request.data)
        body.is_valid(raise_exception=True)
        row = ReportReceipt.objects.create(client_uuid=body.validated_data["client_uuid"], payload_hash=BASELINE_HASH,
                                           reporter=request.user)
        return Response({"id": row.pk}, status=status.HTTP_201_CREATED)


urlpatterns = [path("bench/minimal-insert/", MinimalInsertView.as_view()), *project_urlpatterns]
