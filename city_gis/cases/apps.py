from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "city_gis.cases"
    label = "cases"
    verbose_name = _("案卷")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from city_gis.accounts.layer_owner import register_after_migrate

        # The app's own layers exist wherever its tables do (owner: CITYGIS_DOMAIN_LAYER_OWNER).
        post_migrate.connect(register_after_migrate, sender=self, dispatch_uid=f"{self.label}.domain_layers")

    def register_domain_layers(self, owner) -> list[str]:
        """Register (or update) this app's layers owned by `owner` (a Department); returns their names."""
        from .maplayers import register_case_layers

        return [layer.name for layer in register_case_layers(owner)]
