"""Admin of the grid app (geometry edited in GIS tools; here attributes and inspection)."""

from django.contrib.gis import admin

from .models import Cell, Community, Component, District, ResponsibilityArea, Street


@admin.register(District, Street, Community)
class AdminUnitAdmin(admin.GISModelAdmin):
    list_display = ["code", "name", "synthetic"]
    search_fields = ["code", "name"]


@admin.register(Cell)
class CellAdmin(admin.GISModelAdmin):
    list_display = ["code", "community", "area_m2", "valid_from", "valid_to"]
    search_fields = ["code"]
    list_filter = ["valid_to"]


@admin.register(ResponsibilityArea)
class ResponsibilityAreaAdmin(admin.ModelAdmin):
    list_display = ["name", "inspector"]
    filter_horizontal = ["cells"]


@admin.register(Component)
class ComponentAdmin(admin.GISModelAdmin):
    list_display = ["code", "name", "category", "state", "cell", "maintainer_department"]
    list_filter = ["state", "category"]
    search_fields = ["code", "name"]
