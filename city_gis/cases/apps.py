from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "city_gis.cases"
    label = "cases"
    verbose_name = _("案卷")
    default_auto_field = "django.db.models.BigAutoField"
