"""`python -m bench` (`make bench`): run every bench module's `main()` (each prints its figures and ratios), then
one table of every recorded figure with its floor, ratio and target, also written as JSON under var/bench/.

`python -m bench getmap_cold cluster` runs only the named benches. A bench that fails is reported in the table's
footer and the run goes on; the exit status is 1 when any bench failed.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
from pathlib import Path

from bench import _report


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    wanted = argv or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown bench(es): {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    failed: list[str] = []
    for name in wanted:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        try:
            module.main()
        except (Exception, SystemExit) as exc:  # one broken bench must not hide the others' figures
            if isinstance(exc, SystemExit) and exc.code in (0, None):
                continue
            traceback.print_exc()
            failed.append(name)
    print()
    print(_report.table())
    var = Path(os.environ.get("CITYGIS_VAR_DIR") or Path(__file__).resolve().parents[1] / "var")
    print(f"\nfigures written to {_report.write_json(var / 'bench')}")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
