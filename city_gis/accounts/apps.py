from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "city_gis.accounts"
    label = "accounts"
    verbose_name = _("部门与用户")
    default_auto_field = "django.db.models.BigAutoField"
