"""Print what `main.py` synthesized: one row per stack with its resource count and path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from definitions.paths import SYNTH_OUT

OUT = SYNTH_OUT


def rows(out: Path = OUT) -> list[tuple[str, int, str]]:
    manifest = json.loads((out / "manifest.json").read_text())
    table = []
    for name, stack in sorted(manifest["stacks"].items()):
        path = out / stack["synthesizedStackPath"]
        resources = json.loads(path.read_text()).get("resource", {})
        table.append((name, sum(len(of_type) for of_type in resources.values()), str(path.relative_to(out.parent))))
    return table


def main() -> int:
    table = rows()
    width = max(len(name) for name, _, _ in table)
    print(f"{'stack':<{width}}  resources  path")
    for name, count, path in table:
        print(f"{name:<{width}}  {count:>9}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
