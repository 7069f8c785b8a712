"""Values that cdktf 0.21 renders differently in Terraform JSON and in its HCL output, built so
that both formats carry the same value (the export to plain Terraform renders HCL; see
`tooling/export.py`).

- A string holding double quotes and a Terraform reference breaks cdktf's HCL escaping: build it
  with `format()` over a raw template instead (`with_references`).
- A multi-line string becomes a heredoc in HCL, which adds a final newline: drop one there
  (`multiline`).
"""

from __future__ import annotations

from cdktf import App, Fn
from constructs import IConstruct


def renders_hcl(construct: IConstruct) -> bool:
    """Whether the app is synthesizing HCL (SYNTH_HCL_OUTPUT=true) rather than Terraform JSON."""
    return bool(App.of(construct).hcl_output)


def with_references(template: str, *references: str) -> str:
    """`template` with each `%s` replaced by a reference, as Terraform's `format()`; the template's
    own characters (quotes included) are kept as they are in both formats."""
    return Fn.format(Fn.raw_string(template), list(references))


def multiline(construct: IConstruct, text: str) -> str:
    """`text` (ending in a newline) as it must be passed so that both formats hold exactly `text`."""
    if not text.endswith("\n"):
        raise ValueError(f"{construct.node.path}: multi-line text must end with a newline (HCL heredocs always do)")
    return text[:-1] if renders_hcl(construct) else text
