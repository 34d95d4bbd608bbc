"""`python -m bench`: run every bench module's `main()` (each prints its figures and ratios)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path


def main() -> None:
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if hasattr(module, "main"):
            module.main()


if __name__ == "__main__":
    main()
