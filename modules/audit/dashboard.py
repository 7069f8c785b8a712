"""The environment's CloudWatch dashboard: what an on-call engineer opens first.

Widgets are data (`Widget`): a title and the metrics it plots, or the alarms whose state it shows.
The body is rendered from them with `json.dumps`, laid out two graphs to a row and the alarm
states across the top, so that adding a widget is adding a `Widget`, never editing JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from constructs import Construct

from definitions.aws_context import AwsContext
from definitions.naming import dashboard_name_problem
from modules.foundation.bindings import cloudwatch_dashboard
from modules.foundation.input_checks import check_input
from modules.foundation.metric import Metric

PERIOD_SECONDS = 300
GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide
GRAPH_HEIGHT = 6


@dataclasses.dataclass(frozen=True)
class Widget:
    """A graph of `metrics` (a dimension value of "*" plots every value, through a SEARCH
    expression), or, with `alarms`, the state of those alarm ARNs."""

    title: str
    metrics: Sequence[Metric] = ()
    alarms: Sequence[str] = ()


def _metric_entries(metrics: Sequence[Metric]) -> list[list]:
    entries: list[list] = []
    for index, metric in enumerate(metrics):
        if any(value == "*" for _, value in metric.dimensions):
            # Unquoted terms (a partial match, within the schema's namespace and dimensions): a double
            # quote inside the body does not survive cdktf's HCL output.
            keys = ",".join([metric.namespace, *(name for name, _ in metric.dimensions)])
            fixed = "".join(f" {name}={value}" for name, value in metric.dimensions if value != "*")
            search = f"SEARCH('{{{keys}}} MetricName={metric.name}{fixed}', '{metric.stat}', {PERIOD_SECONDS})"
            entries.append([{"expression": search, "id": f"e{index}", "label": metric.name}])
        else:
            entries.append([metric.namespace, metric.name, *(part for pair in metric.dimensions for part in pair),
                            {"stat": metric.stat}])
    return entries


def render_body(widgets: Sequence[Widget], region: str) -> str:
    """The dashboard body: alarm widgets full width, graphs two to a row."""
    body, x, y = [], 0, 0
    for widget in widgets:
        width = GRID_WIDTH if widget.alarms else GRID_WIDTH // 2
        if x + width > GRID_WIDTH:
            x, y = 0, y + GRAPH_HEIGHT
        properties = ({"title": widget.title, "alarms": list(widget.alarms)} if widget.alarms else
                      {"title": widget.title, "region": region, "view": "timeSeries", "stacked": False,
                       "period": PERIOD_SECONDS, "metrics": _metric_entries(widget.metrics)})
        body.append({"type": "alarm" if widget.alarms else "metric", "x": x, "y": y, "width": width,
                     "height": GRAPH_HEIGHT, "properties": properties})
        x += width
    return json.dumps({"widgets": body}, sort_keys=True)


class Dashboard(Construct):
    """Inputs:
    - name: the dashboard name (required; checked against CloudWatch's rules).
    - widgets: Widget list, in reading order (required).

    Exposes `name`, `widgets` and `resource` (the `aws_cloudwatch_dashboard`).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, widgets: Sequence[Widget]) -> None:
        super().__init__(scope, id)
        check_input(self, "name", name, dashboard_name_problem)
        self.name, self.widgets = name, tuple(widgets)
        self.resource = cloudwatch_dashboard.CloudwatchDashboard(
            self, "dashboard", dashboard_name=name, dashboard_body=render_body(widgets, AwsContext.of(self).region))
