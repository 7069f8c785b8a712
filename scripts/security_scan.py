"""`make scan`: the checkov gate over every synthesized stack (see tooling/checkov_gate.py).

Usage: python -m scripts.security_scan [--sarif PATH] [STACKS_DIR]   (default cdktf.out/stacks)
"""

from __future__ import annotations

import sys

from tooling.checkov_gate import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
