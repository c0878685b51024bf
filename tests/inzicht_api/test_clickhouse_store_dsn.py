"""The `http://` store path: a LogStore through clickhouse-connect's HTTP client, against the endpoint's write user.

No ClickHouse server can be installed here; the endpoint of an embedded store, with a user that
may write, is the stand-in: the SQL still runs in the real ClickHouse engine (chDB), and the
client is clickhouse-connect's HTTP client as `ldv serve --store-dsn http://...` uses it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from ldv_inzicht.clickhouse_http import ClickHouseHttpSettings, ClickHouseUser, create_app, running
from ldv_logboek.register import load_register_files
from ldv_logboek.storage import LogStore, RecordQuery, RegisterStore
from tests.conftest import REPO_ROOT, make_record

WRITER = {"password": "schrijver-pw", "scope": "supervisor", "raw_rows": True, "write": True}


@pytest.fixture(scope="module")
def remote(store: LogStore) -> Iterator[tuple[LogStore, str]]:
    settings = ClickHouseHttpSettings.model_validate({"users": {"schrijver": WRITER}})
    with running(create_app(store, settings)) as url:
        port = url.rsplit(":", 1)[1]
        # As `ldv serve --store-dsn` opens it: a writer client and reader clients of their own.
        remote = LogStore.open(f"http://schrijver:schrijver-pw@127.0.0.1:{port}/default", readers=3)
        yield remote, url
        remote.close()


def test_migrate_insert_find_count_over_http(remote: tuple[LogStore, str], store: LogStore) -> None:
    client, _ = remote
    assert client.migrate() == []  # the embedded store is current: nothing to apply, through HTTP too
    records = [make_record() for _ in range(3)]
    client.insert(records)  # clickhouse-connect's Native insert (compressed as it chooses), read by the engine
    assert store.count() == client.count() == 3
    page = client.find(RecordQuery(trace_id=records[1].trace_id))
    assert page.records == [records[1]]  # every column back as it went in
    by_subject = client.find(RecordQuery(data_subject_id=records[0].attributes["dpl.core.data_subject_id"], limit=10))
    assert {r.span_id for r in by_subject.records} >= {r.span_id for r in records}


def test_reads_over_http_use_clients_of_their_own(remote: tuple[LogStore, str]) -> None:
    """A server's readers are separate clients (one session takes one query at a time): they
    answer while the writer is held, and threads reading and writing together all succeed."""
    client, _ = remote
    assert client.readers == 3
    record = make_record()
    client.insert([record])
    with client.writer_lock:
        assert client.find(RecordQuery(trace_id=record.trace_id)).records == [record]
    errors: list[BaseException] = []
    written: list[bytes] = []

    def work() -> None:
        try:
            for _ in range(5):
                records = [make_record() for _ in range(5)]
                client.insert(records)
                assert client.find(RecordQuery(trace_id=records[0].trace_id)).records == [records[0]]
                written.extend(r.trace_id for r in records)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert all(client.find(RecordQuery(trace_id=t)).records for t in written[::7])


def test_the_register_over_http(remote: tuple[LogStore, str]) -> None:
    client, _ = remote
    register = load_register_files([REPO_ROOT / "demo" / "register"])
    result = RegisterStore(client).save(register)
    loaded = RegisterStore(client).load(fresh=True)
    assert set(loaded.activities) == set(register.activities) and result


def test_only_a_write_user_writes(remote: tuple[LogStore, str]) -> None:
    _, url = remote
    response = httpx.post(url, content=b"DROP TABLE IF EXISTS nothing_here", auth=("schrijver", "schrijver-pw"))
    assert response.status_code == 200
    # GET is read-only for every user, as in ClickHouse: the writer's GET goes through the readers.
    over_get = httpx.get(url, params={"query": "DROP TABLE IF EXISTS nothing_here"}, auth=("schrijver", "schrijver-pw"))
    assert over_get.status_code == 403 and over_get.headers["x-clickhouse-exception-code"] == "497"
    assert httpx.get(url, params={"query": "SELECT count() FROM otel_traces"}, auth=("schrijver", "schrijver-pw")).text
    with pytest.raises(ValidationError, match="write"):
        ClickHouseUser.model_validate({"password": "x", "scope": "dienst-toeslagen", "raw_rows": True, "write": True})
    with pytest.raises(ValidationError, match="write"):
        ClickHouseUser.model_validate({"password": "x", "scope": "supervisor", "write": True})
