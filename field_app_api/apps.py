from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FieldAppApiConfig(AppConfig):
    name = "field_app_api"
    label = "field_app_api"
    verbose_name = _("移动端接口")
    default_auto_field = "django.db.models.BigAutoField"
