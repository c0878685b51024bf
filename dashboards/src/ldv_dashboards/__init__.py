"""Grafana dashboards, alert rules and provisioning for the LDV suite, as code.

Dashboards are built with grafana-foundation-sdk (`ldv_dashboards.dashboards`), their SQL is in
`ldv_dashboards.sql`, provisioning in `ldv_dashboards.provisioning`, and `ldv_dashboards.push`
upserts folder, data source and dashboards into a running Grafana.
"""

from ldv_dashboards.build import SOURCE_ROOT, in_source_checkout, stale, write
from ldv_dashboards.dashboards import DASHBOARDS, dashboard_json
from ldv_dashboards.provisioning import Endpoint
from ldv_dashboards.push import PushResult, push

__all__ = [
    "DASHBOARDS",
    "SOURCE_ROOT",
    "Endpoint",
    "PushResult",
    "dashboard_json",
    "in_source_checkout",
    "push",
    "stale",
    "write",
]
