"""`make scan`: the checkov gate (operations/checkov_gate.py) and parliament over every policy
(operations/policy_lint.py), over every synthesized stack.

Usage: python -m cli.security_scan [--sarif PATH] [STACKS_DIR]   (default cdktf.out/stacks)
"""

from __future__ import annotations

import sys

from operations import checkov_gate, policy_lint


def main(argv: list[str]) -> int:
    status = checkov_gate.main(argv)
    if status == 2:
        return status
    return max(status, policy_lint.main(checkov_gate.parse_args(argv)[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
