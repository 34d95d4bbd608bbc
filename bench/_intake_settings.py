"""Settings for bench/report_intake.py's server: the project's, plus a baseline view in the bench's own URLconf."""

from city_gis.settings import *  # noqa: F403

ROOT_URLCONF = "bench._intake_urls"
# The bench measures intake, not rate limiting.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {  # noqa: F405
    **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "100000000/hour", "reports": "100000000/min"}}  # noqa: F405
AXES_ENABLED = False
