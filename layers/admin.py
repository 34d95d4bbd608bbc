"""Admin for the layer registry and the thematic datasets (Leaflet map widgets on our own /tiles base map).

Non-superusers see and edit only their department's layers; thematic rows are writable for whoever may
write the layer(s) backed by that table (layers.access.can_write), readable for whoever may read them.
Generic features can only be put into layers the user may write, and never moved to another layer; the base
theme accepts only what layers.access.may_publish_to_theme allows.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from leaflet.admin import LeafletGeoAdmin

from city_gis.accounts.models import Department, Role

from . import models as m
from .access import can_read, can_write, is_admin, may_publish_to_theme, writable_layers
from .datasets import DATASETS
from .raster import validate_raster
from .registry import refresh_stats
from .signals import layer_changed
from .style import StyleError, normalise_style


class LayerAdminForm(forms.ModelForm):
    class Meta:
        model = m.Layer
        fields = [
            "name", "theme", "title_zh", "title_en", "abstract", "keywords", "owner", "kind", "geometry_type", "srid",
            "source_table", "id_column", "geom_column", "source_where", "attribute_columns", "raster_path",
            "is_generic", "style", "classification", "readers", "update_frequency", "cacheable", "min_zoom",
            "max_zoom", "sort_order", "extent",
        ]

    def clean_style(self):
        try:
            return normalise_style(self.cleaned_data.get("style"))
        except StyleError as exc:
            raise forms.ValidationError(str(exc)) from exc

    # set by LayerAdmin.get_form: the user saving the form
    editing_user = None

    def clean(self):
        data = super().clean()
        theme = data.get("theme")
        if theme and self.editing_user is not None and not may_publish_to_theme(self.editing_user, theme):
            # the base theme is drawn into everyone's base map: publishing there is an explicit right
            self.add_error("theme", forms.ValidationError(
                _("无权向主题 %(theme)s 发布图层（底图主题仅限底图部门与管理员）"), params={"theme": theme}))
        if data.get("kind") == m.LayerKind.RASTER and data.get("raster_path"):
            try:
                validate_raster(data["raster_path"])
            except forms.ValidationError as exc:
                self.add_error(None, exc)
        return data


@admin.register(m.Layer)
class LayerAdmin(LeafletGeoAdmin):
    form = LayerAdminForm
    list_display = ("name", "title_zh", "theme", "owner", "kind", "classification", "feature_count", "last_update")
    list_filter = ("theme", "owner", "classification", "kind", "update_frequency")
    search_fields = ("name", "title_zh", "title_en", "abstract", "keywords")
    readonly_fields = ("feature_count", "last_update", "created_at", "updated_at")
    filter_horizontal = ("readers",)
    settings_overrides = {"DEFAULT_ZOOM": 10}

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("owner")
        if is_admin(request.user):
            return qs
        return qs.filter(owner_id=request.user.department_id)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # table names and row filters are a system administrator's business
            fields += ["source_table", "source_where", "id_column", "geom_column", "is_generic"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.editing_user = request.user  # get_form builds a fresh class per request
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner" and not is_admin(request.user):
            kwargs["queryset"] = Department.objects.filter(pk=request.user.department_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        return obj is None or can_write(request.user, obj)

    def has_add_permission(self, request):
        return is_admin(request.user) or Role.DATA_STEWARD in (request.user.roles or [])

    def has_delete_permission(self, request, obj=None):
        return is_admin(request.user)

    def save_model(self, request, obj, form, change):
        # the form already limits owner and theme; this guards every other way of reaching save_model
        if not can_write(request.user, obj) or not may_publish_to_theme(request.user, obj.theme):
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        transaction.on_commit(lambda: layer_changed.send(sender=m.Layer, layer=obj, what="metadata", bbox=None))

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(lambda: layer_changed.send(sender=m.Layer, layer=obj, what="deleted", bbox=None))


class ThematicAdmin(LeafletGeoAdmin):
    """A typed dataset: rights follow the registry layers that publish its table."""

    list_display = ("__str__", "name", "synthetic", "updated_at")
    search_fields = ("name",)
    list_filter = ("synthetic",)

    def _layers(self):
        table = self.model._meta.db_table
        return list(m.Layer.objects.filter(source_table=table))

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (
            is_admin(request.user) or any(can_read(request.user, layer) for layer in self._layers())
        )

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and (
            is_admin(request.user) or any(can_write(request.user, layer) for layer in self._layers())
        )

    def has_add_permission(self, request):
        return self.has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)


_EXTRA_DISPLAY = {
    m.Road: ("grade", "width_m"),
    m.Building: ("floors", "use"),
    m.WaterBody: ("kind",),
    m.LandParcel: ("parcel_code", "landuse_code", "landuse_name", "tenure"),
    m.BasicFarmland: ("block_code", "quality_grade"),
    m.MiningRight: ("license_no", "holder", "mineral", "valid_to"),
    m.ZoningPlot: ("plot_code", "landuse_code", "landuse_name", "far_max", "height_max_m"),
    m.HousingProject: ("kind", "units_total", "units_occupied"),
    m.HazardPoint: ("code", "kind", "risk_level", "threatened_people"),
    m.HazardZone: ("kind", "risk_level"),
    m.Shelter: ("capacity", "kind"),
}

for _dataset in DATASETS.values():
    _model = _dataset.model
    _extra = _EXTRA_DISPLAY.get(_model, ())
    _filters = tuple(f for f in _extra if getattr(_model._meta.get_field(f), "choices", None)) + ("synthetic",)
    admin.site.register(
        _model,
        type(f"{_model.__name__}Admin", (ThematicAdmin,), {
            "list_display": ("__str__", *_extra, "synthetic", "updated_at"),
            "list_filter": _filters,
            "search_fields": ("name", *(f for f in _extra if f.endswith(("_code", "code", "_no")))),
        }),
    )


@admin.register(m.GenericFeature)
class GenericFeatureAdmin(LeafletGeoAdmin):
    list_display = ("id", "layer", "updated_at")
    list_filter = ("layer",)
    raw_id_fields = ("layer",)

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("layer")
        if is_admin(request.user):
            return qs
        return qs.filter(layer__owner_id=request.user.department_id)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or can_write(request.user, obj.layer))

    def has_add_permission(self, request):
        return self.has_module_permission(request) and writable_layers(request.user).filter(is_generic=True).exists()

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("layer")  # a feature never moves to another layer (and so never to another owner)
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "layer":
            kwargs["queryset"] = writable_layers(request.user).filter(is_generic=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            old_layer_id = m.GenericFeature.objects.filter(pk=obj.pk).values_list("layer_id", flat=True).first()
            if old_layer_id != obj.layer_id:
                raise PermissionDenied
        if not can_write(request.user, obj.layer):
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        refresh_stats(obj.layer, bbox=obj.geom.extent if obj.geom else None)

    def delete_model(self, request, obj):
        if not can_write(request.user, obj.layer):
            raise PermissionDenied
        layer, bbox = obj.layer, obj.geom.extent if obj.geom else None
        super().delete_model(request, obj)
        refresh_stats(layer, bbox=bbox)

