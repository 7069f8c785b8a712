"""A CloudWatch metric as alarms and dashboard widgets name it: plain data, shared by the
constructs that publish metrics and those that show them."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Metric:
    """`dimensions` are (name, value) pairs; a value of "*" stands for every value (a dashboard
    plots them through a SEARCH expression)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str = "Sum"
