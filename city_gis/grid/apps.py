from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GridConfig(AppConfig):
    name = "city_gis.grid"
    label = "grid"
    verbose_name = _("单元网格")
    default_auto_field = "django.db.models.BigAutoField"
