"""The figures of one `make bench` run: each bench records what it prints (figure, ours, floor, ratio, target);
`python -m bench` ends with one table of them and writes the same as JSON under var/bench/ to compare runs."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

# A ratio is ours/floor: throughputs want it high (">="), durations low ("<=").
OPS = {">=": lambda ratio, target: ratio >= target, "<=": lambda ratio, target: ratio <= target}


@dataclass(frozen=True)
class Figure:
    bench: str
    figure: str
    ours: float
    floor: float | None
    unit: str
    ratio: float | None
    op: str | None
    target: float | None

    @property
    def met(self) -> bool | None:
        if self.ratio is None or self.op is None or self.target is None:
            return None
        return OPS[self.op](self.ratio, self.target)


FIGURES: list[Figure] = []


def record(bench: str, figure: str, *, ours: float, floor: float | None = None, unit: str,
           target: str | None = None) -> Figure:
    """Keep one figure; `target` is e.g. ">= 0.8" on the ratio ours/floor (None: a figure without floor)."""
    op = value = None
    if target is not None:
        op, text = target.split()
        if op not in OPS:
            raise ValueError(f"target must start with >= or <=, not {target!r}")
        value = float(text)
    ratio = ours / floor if floor else None
    fig = Figure(bench, figure, float(ours), float(floor) if floor is not None else None, unit, ratio, op, value)
    FIGURES.append(fig)
    return fig


def table(figures: list[Figure] | None = None) -> str:
    rows = [("bench", "figure", "ours", "floor", "unit", "ratio", "target", "met")]
    for f in figures if figures is not None else FIGURES:
        rows.append((f.bench, f.figure, f"{f.ours:,.3g}" if f.ours < 100 else f"{f.ours:,.0f}",
                     "" if f.floor is None else (f"{f.floor:,.3g}" if f.floor < 100 else f"{f.floor:,.0f}"), f.unit,
                     "" if f.ratio is None else f"{f.ratio:.2f}", "" if f.op is None else f"{f.op} {f.target:g}",
                     {True: "yes", False: "NO", None: ""}[f.met]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(directory: Path, figures: list[Figure] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    path = directory / f"bench-{stamp}.json"
    data = {"when": stamp, "machine": platform.node(), "python": platform.python_version(),
            "figures": [asdict(f) | {"ratio": f.ratio, "met": f.met} for f in (figures or FIGURES)]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
