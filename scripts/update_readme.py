"""`make docs`: regenerate the README's key table from the declarations in environments/config.py.

The table sits between `<!-- keys:start -->` and `<!-- keys:end -->`; tests/test_docs.py fails
when it differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from environments.config import markdown_table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- keys:start -->\n", "\n<!-- keys:end -->"


def main() -> int:
    text = README.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    updated = f"{before}{START}{markdown_table()}{END}{after}"
    if updated != text:
        README.write_text(updated)
        print(f"{README.name}: key table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
