"""The list filters of devices and alerts (django-filter FilterSets: the API validates them, drf-spectacular documents
them). A bad value is a 400 naming the parameter; text filters are bounded and refuse control characters."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import MaxLengthValidator
from django.db.models import QuerySet
from django.utils import timezone

from city_gis.text_limits import has_control_chars

from .models import Alert, AreaWarning, Device, DeviceStatus, DeviceType
from .rules import LEVEL_BY_NAME

FILTER_VALUE_MAX = 100  # characters of one filter parameter


def _printable(value: str) -> None:
    from django.core.exceptions import ValidationError

    if has_control_chars(value):
        raise ValidationError("no control characters")


def _text(field_name: str, help_text: str) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=field_name, help_text=help_text,
                                     validators=[MaxLengthValidator(FILTER_VALUE_MAX), _printable])


class DeviceFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=DeviceType.choices, help_text="device type")
    status = django_filters.ChoiceFilter(choices=DeviceStatus.choices, help_text="device status")
    hazard_point = _text("hazard_point__code", "hazard point code")

    class Meta:
        model = Device
        fields = ["type", "status", "hazard_point"]


class AlertFilter(django_filters.FilterSet):
    open = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_open",
                                       help_text="true: open alerts only; false: closed only")
    level = django_filters.ChoiceFilter(choices=[(name, name) for name in LEVEL_BY_NAME], method="filter_level",
                                        help_text="blue, yellow, orange or red")
    rule = _text("rule", "alert rule")
    hazard_point = _text("hazard_point__code", "hazard point code")
    device = _text("device__code", "device code (offline alerts)")

    class Meta:
        model = Alert
        fields = ["open", "level", "rule", "hazard_point", "device"]

    def filter_open(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(closed_at__isnull=value == "true")

    def filter_level(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(level=LEVEL_BY_NAME[value])


TRUE, FALSE = ("true", "1"), ("false", "0")


def _truth(value: str) -> None:
    from django.core.exceptions import ValidationError

    if value.lower() not in TRUE + FALSE:
        raise ValidationError("true or false")


class TruthFilter(django_filters.Filter):
    """true/1 or false/0 (any case); anything else is a 400 naming the parameter."""

    field_class = forms.CharField


class AreaWarningFilter(django_filters.FilterSet):
    active = TruthFilter(method="filter_active", validators=[_truth], help_text="true: valid now only")

    class Meta:
        model = AreaWarning
        fields = ["active"]

    def filter_active(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value.lower() not in TRUE:
            return qs
        now = timezone.now()
        return qs.filter(cancelled_at__isnull=True, valid_from__lte=now, valid_to__gt=now)
