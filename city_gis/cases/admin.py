"""Admin: categories and stage limits are editable (configuration); cases and their history are read-only
here — they change only through the workflow."""

from django.contrib import admin

from .models import Case, CaseAttachment, CaseHistory, Category, StageLimit


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["kind", "code", "name_zh", "big_name_zh", "default_department", "version", "active"]
    list_filter = ["kind", "active", "big_code"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(StageLimit)
class StageLimitAdmin(admin.ModelAdmin):
    list_display = ["stage", "limit", "unit"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HistoryInline(admin.TabularInline):
    model = CaseHistory
    fields = ["seq", "action", "from_state", "to_state", "actor", "at", "department", "due_at", "on_time", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "state", "category", "source", "district_code", "department", "created_at"]
    list_filter = ["state", "source", "category__kind"]
    search_fields = ["number", "address", "description"]
    inlines = [HistoryInline]


@admin.register(CaseAttachment)
class CaseAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["case", "history", "taken_at", "uploaded_by", "created_at"]
