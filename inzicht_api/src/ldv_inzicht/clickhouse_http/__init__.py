"""A read-only ClickHouse HTTP endpoint over the embedded store, for Grafana's ClickHouse plugin and other clients.

`create_app(store, settings)` builds the ASGI app; `ldv serve` runs it on its own port
(`--clickhouse-port`, default 8123). `running(app)` serves an app on a free loopback port in
a background thread, for tests and tools. See `app` for the wire contract, `access` and
`admission` for what each user may read, `readers` for the engine's read-only connections.
"""

from ldv_inzicht.clickhouse_http._app import NotEmbeddedStore, create_app
from ldv_inzicht.clickhouse_http._background import running
from ldv_inzicht.clickhouse_http.settings import SUPERVISOR, ClickHouseHttpSettings, ClickHouseUser

__all__ = ["SUPERVISOR", "ClickHouseHttpSettings", "ClickHouseUser", "NotEmbeddedStore", "create_app", "running"]
