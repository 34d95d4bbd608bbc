"""Runs the demo steps in order, each at most once (recorded in DemoBuild), deterministically seeded.

A step is a dotted path to a module with `run(ctx: DemoContext) -> None` and optionally
`needs_rerun(ctx) -> bool` (its output went missing). Apps add their step here; a step whose module
does not exist yet is skipped with a warning so partial checkouts still build.
"""

from __future__ import annotations

import importlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from data.models import DemoBuild

STEPS: list[tuple[str, str]] = [
    ("accounts", "data.demo.accounts"),
    ("city", "data.demo.city"),
    ("review", "data.demo.review"),  # control lines (三区三线) and the conflicts a review finds
    ("rasters", "data.demo.rasters"),
    ("grid", "data.demo.grid"),
    ("categories", "city_gis.cases.demo_categories"),
    ("components", "city_gis.grid.demo_components"),
    ("history", "city_gis.cases.demo_history"),
    ("evaluation", "city_gis.evaluation.demo"),
    ("hazards", "data.demo.hazards"),
]
# Steps rerun every time: cheap, and they must match this checkout (the demo password lives in var/).
ALWAYS = {"accounts"}


@dataclass
class DemoContext:
    """What every step gets: the seed, the options, a seeded RNG and a progress flag."""

    seed: int = 20261125
    history_days: int = 90
    cases_per_day: int = 300
    progress: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def rng(self, step: str) -> random.Random:
        """A random generator seeded by the demo seed and the step name (stable across runs)."""
        return random.Random(f"{self.seed}:{step}")


def build_demo(ctx: DemoContext | None = None, *, force: bool = False, only: list[str] | None = None, log=print) -> list[str]:
    """Run every demo step not yet done (or all with `force`); return the names of steps run."""
    ctx = ctx or DemoContext()
    ran = []
    for name, module_path in STEPS:
        if only and name not in only:
            continue
        module = importlib.import_module(module_path)  # a missing step module is a bug, never skipped
        # A step may say its output is gone (e.g. raster files of another checkout) via needs_rerun(ctx).
        done = DemoBuild.objects.filter(step=name).exists()
        stale = done and hasattr(module, "needs_rerun") and module.needs_rerun(ctx)
        if done and not (force or stale or name in ALWAYS):
            continue
        log(f"[demo] step {name} …")
        started = time.monotonic()
        with transaction.atomic():
            module.run(ctx)
            DemoBuild.objects.update_or_create(
                step=name,
                defaults={"seed": ctx.seed, "options": {"history_days": ctx.history_days, "cases_per_day": ctx.cases_per_day}},
            )
        log(f"[demo] step {name} done in {time.monotonic() - started:.1f} s")  # where make run's minutes go
        ran.append(name)
    return ran
