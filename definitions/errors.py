"""The one error type of bad input, whatever file it is in."""

from __future__ import annotations


class ConfigError(Exception):
    """Every problem found in the input (environment files, content files), one line each:
    `FILE: KEY: PROBLEM`."""

    def __init__(self, problems: list[str]):
        # One line per problem, whatever a key or value held.
        self.problems = [p.replace("\r", "\\r").replace("\n", "\\n") for p in problems]
        super().__init__("\n".join(self.problems))
