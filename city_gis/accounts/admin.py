"""Admin for departments and users."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Department, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "is_disposal_unit"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(User)
class CityUserAdmin(UserAdmin):
    list_display = ["username", "display_name", "department", "roles", "is_active"]
    list_filter = ["department", "is_active"]
    fieldsets = UserAdmin.fieldsets + (("CityGIS", {"fields": ("display_name", "department", "roles", "phone")}),)
