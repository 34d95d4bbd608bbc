"""Open311 request and response shapes (for validation and the OpenAPI schema)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from city_gis.text_limits import DESCRIPTION_MAX_LENGTH, SafeCharField


class Open311ErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    description = serializers.CharField()


class EndpointSerializer(serializers.Serializer):
    specification = serializers.URLField()
    url = serializers.URLField()
    changeset = serializers.CharField()
    type = serializers.CharField()
    formats = serializers.ListField(child=serializers.CharField())


class DiscoverySerializer(serializers.Serializer):
    changeset = serializers.CharField()
    contact = serializers.CharField()
    key_service = serializers.CharField()
    endpoints = EndpointSerializer(many=True)


class ServiceSerializer(serializers.Serializer):
    service_code = serializers.CharField()
    service_name = serializers.CharField()
    description = serializers.CharField()
    metadata = serializers.BooleanField()
    type = serializers.CharField()
    keywords = serializers.CharField()
    group = serializers.CharField()


class ServiceDefinitionSerializer(serializers.Serializer):
    service_code = serializers.CharField()
    attributes = serializers.ListField(child=serializers.DictField())


class RequestQuerySerializer(serializers.Serializer):
    service_request_id = serializers.CharField(required=False, max_length=2000)
    service_code = serializers.CharField(required=False, max_length=500)
    start_date = serializers.DateTimeField(required=False)
    end_date = serializers.DateTimeField(required=False)
    status = serializers.ChoiceField(choices=["open", "closed"], required=False)


class RequestCreateSerializer(serializers.Serializer):
    api_key = SafeCharField(max_length=200, required=False, help_text=_("合作方 API 密钥（必填）"))
    service_code = serializers.RegexField(r"^\d{4}$", max_length=4)
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    long = serializers.FloatField(required=False, min_value=-180, max_value=180)
    address_string = SafeCharField(required=False, max_length=200, allow_blank=True)
    address_id = SafeCharField(required=False, max_length=100, allow_blank=True)
    email = serializers.EmailField(required=False, max_length=200, allow_blank=True)
    device_id = SafeCharField(required=False, max_length=100, allow_blank=True)
    account_id = SafeCharField(required=False, max_length=100, allow_blank=True)
    first_name = SafeCharField(required=False, max_length=60, allow_blank=True)
    last_name = SafeCharField(required=False, max_length=60, allow_blank=True)
    phone = SafeCharField(required=False, max_length=40, allow_blank=True)
    description = SafeCharField(required=False, max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True)
    media_url = serializers.URLField(required=False, max_length=500, allow_blank=True)

    def validate(self, attrs):
        has_point = attrs.get("lat") is not None and attrs.get("long") is not None
        if not has_point and not attrs.get("address_string"):
            raise serializers.ValidationError({"lat": _("需要 lat/long 或 address_string。")})
        if (attrs.get("lat") is None) != (attrs.get("long") is None):
            raise serializers.ValidationError({"long": _("lat 与 long 必须同时提供。")})
        return attrs


class RequestCreatedSerializer(serializers.Serializer):
    service_request_id = serializers.CharField()
    service_notice = serializers.CharField()
    account_id = serializers.CharField(allow_null=True)


class ServiceRequestSerializer(serializers.Serializer):
    service_request_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["open", "closed"])
    status_notes = serializers.CharField()
    service_name = serializers.CharField()
    service_code = serializers.CharField()
    description = serializers.CharField()
    agency_responsible = serializers.CharField()
    service_notice = serializers.CharField()
    requested_datetime = serializers.DateTimeField()
    updated_datetime = serializers.DateTimeField()
    expected_datetime = serializers.DateTimeField(allow_null=True)
    address = serializers.CharField()
    address_id = serializers.CharField()
    zipcode = serializers.CharField()
    lat = serializers.FloatField()
    long = serializers.FloatField()
    media_url = serializers.CharField()
