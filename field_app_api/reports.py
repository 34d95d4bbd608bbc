"""POST /api/v1/reports/: an inspector's report, idempotent on client_uuid, with photos.

Idempotency: a ReportReceipt row (unique client_uuid, payload hash) is inserted first in the report's
transaction. A retry finds it and gets the same case (200) if the payload hash matches, else 409; a
concurrent retry blocks on the unique index until the first commits, gets IntegrityError, and then
reads the receipt — so concurrent retries create exactly one case. A retry with photos reads the receipt
before decoding them; one without gets the IntegrityError at once (the same path, one query less for a new report).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from city_gis.api_parsers import SMALL_BODY_PARSERS
from city_gis.text_limits import SafeCharField

from . import domain
from .domain import Case
from .models import ReportReceipt
from .permissions import IsInspector
from .photos import PhotoUploadsMixin, StoredFiles, check_count, read_photos
from .serializers import ErrorSerializer, PointField, UploadField
from .throttles import ReportThrottle

DESCRIPTION_MAX = 2000
CLOCK_SKEW = timedelta(minutes=10)
EARLIEST_OBSERVATION = datetime(2000, 1, 1, tzinfo=UTC)


class ReportSerializer(serializers.Serializer):
    client_uuid = serializers.UUIDField(help_text=_("客户端生成的 UUID；重试时保持不变"))
    category = SafeCharField(max_length=20, help_text=_("小类代码：事件为 4 位（如 0102），部件为 component:0101"))
    location = PointField(required=False, help_text=_("缺省时取第一张照片的 EXIF GPS"))
    observed_at = serializers.DateTimeField(required=False, help_text=_("手机记录的发现时间；缺省时取照片 EXIF 时间"))
    description = SafeCharField(max_length=DESCRIPTION_MAX, required=False, allow_blank=True)
    urgency = SafeCharField(max_length=20, required=False, allow_blank=True)
    photos = serializers.ListField(child=UploadField(), required=False, write_only=True,
                                   help_text=_("照片（multipart），每张不超过 10 MB，最多 6 张"))

    def validate_observed_at(self, value):
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError(_("发现时间晚于服务器时间。"))
        if value < EARLIEST_OBSERVATION:
            # A phone clock reset to year 1 or 1970 would put the case outside every evaluation period.
            raise serializers.ValidationError(_("发现时间早于 %(d)s。") % {"d": EARLIEST_OBSERVATION.date().isoformat()})
        return value


class PhotoRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    thumbnail_url = serializers.CharField()
    taken_at = serializers.DateTimeField(allow_null=True)


class UnitSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class GeocodeSerializer(serializers.Serializer):
    cell = serializers.CharField()
    community = UnitSerializer()
    street = UnitSerializer()
    district = serializers.CharField()
    address = serializers.CharField()


class DuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    state = serializers.CharField()
    distance_m = serializers.FloatField()


class ReportResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    category = serializers.CharField()
    client_uuid = serializers.UUIDField()
    location = PointField()
    observed_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    geocode = GeocodeSerializer()
    duplicates = DuplicateSerializer(many=True)
    next_deadline = serializers.DateTimeField(allow_null=True)
    photos = PhotoRefSerializer(many=True)


def photo_refs(case: Case, attachments: list | None = None) -> list[dict]:
    base = f"/api/v1/cases/{case.pk}/photos/"
    attachments = case.attachments.all() if attachments is None else attachments
    return [{"id": a.pk, "url": f"{base}{a.pk}/", "thumbnail_url": f"{base}{a.pk}/?size=thumb", "taken_at": a.taken_at}
            for a in attachments]


def report_result(case: Case, attachments: list | None = None) -> dict:
    """The answer to a report; `attachments` as just stored (saves a query), else read from the case."""
    return {
        "id": case.pk, "number": case.number, "state": case.state, "state_label": case.get_state_display(),
        "category": domain.category_ref(case.category), "client_uuid": case.client_uuid, "location": case.location,
        "observed_at": case.observed_at, "created_at": case.created_at, "geocode": domain.geocode_of(case),
        "duplicates": domain.duplicates_of(case), "next_deadline": case.stage_deadline,
        "photos": photo_refs(case, attachments),
    }


# Built once: a serializer deep-copies its declared (and nested) fields on every instantiation, about a third of
# a millisecond per answer; to_representation keeps no state, so requests and threads share this instance.
_RESULT = ReportResultSerializer()


def render_result(case: Case, attachments: list | None = None) -> dict:
    """The JSON-ready answer (ReportResultSerializer) to a report."""
    return _RESULT.to_representation(report_result(case, attachments))


def payload_hash(data: dict, uploads: list) -> str:
    """Hash of what the client sent (fields + photo bytes): a retry must match it exactly."""
    loc = data.get("location")
    canonical = {
        "category": data["category"],
        "location": [round(loc.x, 7), round(loc.y, 7)] if loc else None,
        "observed_at": data["observed_at"].timestamp() if data.get("observed_at") else None,
        "description": data.get("description", ""),
        "urgency": data.get("urgency", ""),
        "photos": [],
    }
    for upload in uploads:
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        canonical["photos"].append(digest.hexdigest())
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


class ReportView(PhotoUploadsMixin, APIView):
    """Inspectors' reports (上报)."""

    permission_classes = [IsInspector]
    parser_classes = SMALL_BODY_PARSERS

    def get_throttles(self):
        return [*super().get_throttles(), ReportThrottle()]

    @extend_schema(
        operation_id="reports_create",
        request={"application/json": ReportSerializer, "multipart/form-data": ReportSerializer},
        responses={201: ReportResultSerializer, 200: ReportResultSerializer, 400: ErrorSerializer,
                   401: ErrorSerializer, 403: ErrorSerializer, 409: ErrorSerializer, 413: ErrorSerializer},
        summary=_("监督员上报问题（按 client_uuid 幂等）"),
        description=_("同一 client_uuid 重试且内容相同返回 200 与原案卷；内容不同返回 409。"),
    )
    def post(self, request):
        # Cheap checks first (fields, category, location, photo count); photos are decoded last, and each
        # one only after its byte size and declared pixel count passed (photos.read_photo).
        ser = ReportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        uploads = request.FILES.getlist("photos")
        check_count(uploads)
        category = domain.get_category(data["category"])
        if category is None:
            raise ValidationError({"category": [_("未知类别：%(c)s") % {"c": data["category"]}]})
        if data.get("location") is None and not uploads:
            raise ValidationError({"location": [_("缺少位置：请提供 location 或带 GPS 信息的照片。")]})
        digest = payload_hash(data, uploads)
        if uploads:
            # A retry with photos is answered before they are decoded. Without photos the receipt's INSERT
            # below finds the retry (IntegrityError → replay), and a new report is spared this read.
            receipt = ReportReceipt.objects.filter(client_uuid=data["client_uuid"]).first()
            if receipt is not None:
                return self.replay(receipt, digest, request.user)
        photos = read_photos(uploads)
        location = data.get("location") or next((p.gps for p in photos if p.gps), None)
        if location is None:
            raise ValidationError({"location": [_("缺少位置：请提供 location 或带 GPS 信息的照片。")]})
        observed_at = data.get("observed_at") or next((p.taken_at for p in photos if p.taken_at), None)
        try:
            with StoredFiles() as files, transaction.atomic():
                receipt = ReportReceipt.objects.create(
                    client_uuid=data["client_uuid"], payload_hash=digest, reporter=request.user
                )
                try:
                    case = domain.create_report(
                        user=request.user, source=domain.Source.INSPECTOR, category=category, location=location,
                        description=data.get("description") or category.name_zh, observed_at=observed_at,
                        client_uuid=data["client_uuid"], urgency=data.get("urgency") or None,
                    )
                except ValidationError as exc:
                    # The core names its own arguments; answer with this API's field names.
                    raise ValidationError(_rename(exc.detail)) from None
                attachments = domain.attach_photos(case, photos, request.user, files)
                receipt.case_id = case.pk
                receipt.save(update_fields=["case_id"])
        except IntegrityError:
            # A concurrent request with this client_uuid committed first.
            receipt = ReportReceipt.objects.filter(client_uuid=data["client_uuid"]).first()
            if receipt is not None:
                return self.replay(receipt, digest, request.user)
            if domain.client_uuid_taken(data["client_uuid"]):
                # Created through another channel (e.g. the mobile page) without a receipt: no hash to compare.
                return Response({"client_uuid": [_("该 client_uuid 已被其他上报使用。")]}, status=status.HTTP_409_CONFLICT)
            raise
        return Response(render_result(case, attachments), status=status.HTTP_201_CREATED)

    def replay(self, receipt: ReportReceipt, digest: str, user) -> Response:
        if receipt.reporter_id != user.pk or receipt.payload_hash != digest:
            return Response(
                {"client_uuid": [_("该 client_uuid 已用于内容不同的上报。")]}, status=status.HTTP_409_CONFLICT
            )
        case = domain.case_of_receipt(receipt.case_id)
        return Response(render_result(case), status=status.HTTP_200_OK)


_CORE_FIELDS = {"category_code": "category"}


def _rename(detail):
    if isinstance(detail, dict):
        return {_CORE_FIELDS.get(k, k): v for k, v in detail.items()}
    return detail

