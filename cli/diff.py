"""`make diff [BASE=<git ref>]`: Markdown on stdout of what the working tree changes in the
generated Terraform against BASE (default: the merge base with main). See operations/stack_diff.py.
No credentials needed. Exit status 1 when a tree cannot be synthesized.
"""

from __future__ import annotations

import sys

from operations.stack_diff import default_base, report


def main(argv: list[str]) -> int:
    try:
        print(report(argv[0] if argv and argv[0] else default_base()))
    except RuntimeError as err:
        print(f"diff: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
