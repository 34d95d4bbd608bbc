from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TileserverConfig(AppConfig):
    name = "tileserver"
    label = "tileserver"
    verbose_name = _("地图服务")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (registers the registry listeners)
