from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewConfig(AppConfig):
    name = "city_gis.review"
    label = "review"
    verbose_name = _("规划合规性审查")
    default_auto_field = "django.db.models.BigAutoField"
