from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LayersConfig(AppConfig):
    name = "layers"
    label = "layers"
    verbose_name = _("图层目录")
    default_auto_field = "django.db.models.BigAutoField"
