"""Demo step "categories": the default category trees and stage limits from city_gis/cases/data/categories.yaml."""

from __future__ import annotations

from .categories import DEFAULT_FILE, load_categories
from .maplayers import register_case_layers


def run(ctx) -> None:
    stats = load_categories(DEFAULT_FILE)
    register_case_layers()
    if ctx.progress:
        print(f"[demo] categories: {stats}")
