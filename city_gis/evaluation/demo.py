"""Demo step "evaluation": score the areas for the month of the latest demo history and publish the layers."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from .maplayers import refresh_area_scores, register_layers
from .periods import parse_period


def run(ctx) -> None:
    """Register the evaluation layers; fill AreaScore for the month holding the newest history entry."""
    with connection.cursor() as cur:
        cur.execute("SELECT max(at) FROM cases_casehistory")
        (latest,) = cur.fetchone()
    day = timezone.localtime(latest).date() if latest else timezone.localdate()
    register_layers()
    rows = refresh_area_scores(parse_period(f"{day.year:04d}-{day.month:02d}"))
    if ctx.progress:
        print(f"[demo] evaluation: {rows} area scores for {day.year:04d}-{day.month:02d}")
