"""Grafana dashboards, alert rules and provisioning for the LDV suite, as code.

Dashboards are built with grafana-foundation-sdk (`ldv_dashboards.dashboards`), their SQL is in
`ldv_dashboards.sql`, provisioning in `ldv_dashboards.provisioning`, and `ldv_dashboards.push`
upserts folder, data source and dashboards into a running Grafana.
"""
