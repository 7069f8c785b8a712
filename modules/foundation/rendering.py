"""Values that cdktf 0.21 renders differently in Terraform JSON and in its HCL output, built so
that both formats carry the same value (the export to plain Terraform renders HCL; see
`operations/export.py`).

- A string holding double quotes and a Terraform reference breaks cdktf's HCL escaping: build it
  with `format()` over a raw template instead (`with_references`).
- A multi-line string becomes a heredoc in HCL, which adds a final newline: drop one there
  (`multiline`).

And values assembled from what other constructs ask for are set once, at synth, after every
grant (`at_synth`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import jsii
from cdktf import App, Aspects, Fn, IAspect
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


@jsii.implements(IAspect)
class _AtSynth:
    def __init__(self, construct: IConstruct, callback: Callable[[], None]) -> None:
        self._construct, self._callback = construct, callback

    def visit(self, node: IConstruct) -> None:
        if node is self._construct:
            self._callback()


def at_synth(construct: IConstruct, callback: Callable[[], None]) -> None:
    """Run `callback` when the synth visits `construct`: after the whole app is built, so that it
    sees every grant. It must set the same values however often it runs."""
    Aspects.of(construct).add(_AtSynth(construct, callback))


def former_logical_id(path: str) -> str:
    """The logical id cdktf gave a resource at construct `path` (below the stack), for `moved`
    blocks: the path's parts joined by '_', then the first 8 hex digits of the MD5 of the path."""
    digest = hashlib.md5(path.encode(), usedforsecurity=False).hexdigest()[:8].upper()
    return f"{path.replace('/', '_')}_{digest}"
