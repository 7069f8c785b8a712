"""`make diff [BASE=<git ref>]`: Markdown on stdout of what the working tree changes in the
generated Terraform against BASE (default: the merge base with main). See operations/stack_diff.py.
No credentials needed. Exit status 1 when a tree cannot be synthesized.

`python -m cli.diff --fit LIMIT FILE POINTER`: the report in FILE within LIMIT characters, for a
pull-request comment (operations/review.py `fitted`), POINTER saying where the whole one is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from operations.review import fitted
from operations.stack_diff import default_base, report


def main(argv: list[str]) -> int:
    if argv[:1] == ["--fit"]:
        if len(argv) != 4 or not argv[1].isdigit():
            print("usage: python -m cli.diff --fit LIMIT FILE POINTER", file=sys.stderr)
            return 2
        print(fitted(Path(argv[2]).read_text(), int(argv[1]), argv[3]), end="")
        return 0
    try:
        print(report(argv[0] if argv and argv[0] else default_base()))
    except RuntimeError as err:
        print(f"diff: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
