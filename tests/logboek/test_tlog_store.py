"""The transparency log in a real embedded store, through the collector's group-commit writer:
append before acknowledgement, repair after a crash between the records' and the leaves'
inserts, and `audit_store` catching every attack of issue #15 item 6.

Every attack test first audits the untouched store as ok: with the log switched off the records
are unlogged, that first audit fails, and so does the test."""

from __future__ import annotations

import pytest

from ldv_collector import GroupCommitWriter
from ldv_logboek.errors import LogIntegrityError, StorageError
from ldv_logboek.storage import (
    CHECKPOINTS_TABLE,
    LEAVES_TABLE,
    RECORDS_TABLE,
    AuditReport,
    LogStore,
    LogTables,
    TransparencyLog,
    audit_store,
    rows_table,
)
from ldv_logboek.tlog import Checkpoint, Signer, leaf_hash, record_entry, sign_note
from tests.conftest import make_record

SIGNER = Signer.generate("logboek.test/log")
DAY_S = 86_400


def write(store: LogStore, log: TransparencyLog | None, batches: int = 3, per: int = 40) -> None:
    """`batches` requests of `per` records through the writer; every one acknowledged."""
    writer = GroupCommitWriter(store, max_batch_wait_ms=0, log=log)
    writer.start()
    try:
        for _ in range(batches):
            writer.submit([make_record() for _ in range(per)]).result(timeout=60)
    finally:
        writer.stop()


def audit(store: LogStore, **kwargs: object) -> AuditReport:
    return audit_store(store, log_keys={SIGNER.name: SIGNER.verifier}, **kwargs)  # type: ignore[arg-type]


def command(store: LogStore, sql: str) -> None:
    with store.writer_lock:
        store.client.command(sql)


def logged_store(store: LogStore) -> TransparencyLog:
    log = TransparencyLog.open(store, SIGNER)
    write(store, log)
    log.sign_checkpoint()
    report = audit(store)
    assert report.ok, report.lines()  # fails when the log is off: the records would be unlogged
    return log


def test_every_acknowledged_record_is_a_leaf_and_the_log_reopens_at_the_same_head(fresh: LogStore) -> None:
    log = logged_store(fresh)
    assert log.size == 120
    tables = LogTables(fresh, SIGNER.name)
    records = tables.records_from(0)
    assert [i for i, _, _ in records] == list(range(120))
    assert [record_entry(s, v) for _, s, v in records] == [e for _, e, _ in tables.leaves(0, 120)]
    head = log.head()
    again = TransparencyLog.open(fresh, SIGNER)
    assert again.head() == head
    report = audit(fresh)
    assert report.records_checked == 120 and report.logs[0].checkpoints == 1 and report.logs[0].signatures_checked


def test_a_crash_between_the_records_and_their_leaves_is_repaired_at_start(fresh: LogStore) -> None:
    log = logged_store(fresh)
    # The leaves' insert fails in the real store (its table is gone for a moment): the request is
    # not acknowledged, though its records are stored.
    command(fresh, f"RENAME TABLE {LEAVES_TABLE} TO {LEAVES_TABLE}_away")
    writer = GroupCommitWriter(fresh, max_batch_wait_ms=0, log=log)
    writer.start()
    try:
        with pytest.raises(StorageError):
            writer.submit([make_record() for _ in range(25)]).result(timeout=60)
    finally:
        writer.stop()
    command(fresh, f"RENAME TABLE {LEAVES_TABLE}_away TO {LEAVES_TABLE}")
    assert LogTables(fresh, SIGNER.name).leaf_span() == (120, 120)
    assert fresh.count() == 145
    # The process "restarts": the log repairs from the stored records, once.
    reopened = TransparencyLog.open(fresh, SIGNER)
    assert reopened.size == 145
    assert TransparencyLog.open(fresh, SIGNER).size == 145  # a second start appends nothing
    write(fresh, reopened, batches=1, per=5)
    reopened.sign_checkpoint()
    report = audit(fresh)
    assert report.ok, report.lines()
    assert report.records_checked == 150 and LogTables(fresh, SIGNER.name).leaf_span() == (150, 150)


def test_a_failed_batch_in_a_running_writer_is_repaired_before_the_next_one(fresh: LogStore) -> None:
    log = logged_store(fresh)
    command(fresh, f"RENAME TABLE {LEAVES_TABLE} TO {LEAVES_TABLE}_away")
    writer = GroupCommitWriter(fresh, max_batch_wait_ms=0, log=log)
    writer.start()
    try:
        with pytest.raises(StorageError):
            writer.submit([make_record() for _ in range(7)]).result(timeout=60)
        command(fresh, f"RENAME TABLE {LEAVES_TABLE}_away TO {LEAVES_TABLE}")
        writer.submit([make_record() for _ in range(3)]).result(timeout=60)
    finally:
        writer.stop()
    assert log.size == 130
    report = audit(fresh)
    assert report.ok, report.lines()


def test_a_deleted_record_is_missing(fresh: LogStore) -> None:
    logged_store(fresh)
    command(fresh, f"ALTER TABLE {RECORDS_TABLE} DELETE WHERE LeafIndex = 17 SETTINGS mutations_sync = 2")
    report = audit(fresh)
    assert not report.ok
    assert any("1 record(s) missing before their retention ended, at 17" in p for p in report.logs[0].problems)


def test_a_record_past_its_retention_is_expired_not_missing(fresh: LogStore) -> None:
    logged_store(fresh)
    command(fresh, f"ALTER TABLE {RECORDS_TABLE} DELETE WHERE LeafIndex = 3 SETTINGS mutations_sync = 2")
    import time

    later = time.time() + 3651 * DAY_S  # past the default retention of every record
    report = audit(fresh, now=later)
    assert report.ok, report.lines()
    assert report.logs[0].expired == 1


def test_a_changed_field_is_caught(fresh: LogStore) -> None:
    logged_store(fresh)
    command(fresh, f"ALTER TABLE {RECORDS_TABLE} UPDATE SpanName = 'iets anders' WHERE LeafIndex = 5 SETTINGS mutations_sync = 2")
    report = audit(fresh)
    assert any("1 record(s) changed since they were logged, at 5" in p for p in report.logs[0].problems)


def test_a_shortened_retention_is_caught(fresh: LogStore) -> None:
    logged_store(fresh)
    command(fresh, f"ALTER TABLE {RECORDS_TABLE} UPDATE RetentionDays = 1 WHERE LeafIndex = 9 SETTINGS mutations_sync = 2")
    report = audit(fresh)
    assert any("changed since they were logged, at 9" in p for p in report.logs[0].problems)


def test_a_record_inserted_behind_the_collectors_back_is_unlogged(fresh: LogStore) -> None:
    logged_store(fresh)
    fresh.insert_record_rows(rows_table([make_record()]))  # the store's plain insert: no log
    report = audit(fresh)
    assert not report.ok and report.unlogged == 1


def test_a_rewritten_log_is_a_fork_of_the_checkpoint_signed_before(fresh: LogStore) -> None:
    log = logged_store(fresh)
    signed = LogTables(fresh, SIGNER.name).latest_checkpoint()
    assert signed is not None
    # Whoever holds the store and the key rewrites leaf 0 and the tree, and signs the new head.
    command(fresh, f"ALTER TABLE {RECORDS_TABLE} DELETE WHERE LeafIndex = 0 SETTINGS mutations_sync = 2")
    command(fresh, f"ALTER TABLE {LEAVES_TABLE} DELETE WHERE LeafIndex = 0 SETTINGS mutations_sync = 2")
    fake = Checkpoint(SIGNER.name, log.size, bytes(32))
    LogTables(fresh, SIGNER.name).save_checkpoint(fake, sign_note(fake.text, SIGNER))
    report = audit(fresh, trusted=[signed[2]])
    problems = " ".join(report.logs[0].problems)
    assert "two checkpoints of size 120 with different roots (a fork)" in problems
    assert "leaf indices have gaps" in problems
    with pytest.raises(LogIntegrityError):
        TransparencyLog.open(fresh, SIGNER)


def test_a_checkpoint_signed_with_another_key_is_caught(fresh: LogStore) -> None:
    log = logged_store(fresh)
    impostor = Signer.generate(SIGNER.name)
    head = log.head()
    LogTables(fresh, SIGNER.name).save_checkpoint(head, sign_note(head.text, impostor))
    report = audit(fresh)
    assert any("not signed by the log's key" in p for p in report.logs[0].problems)


def test_leaves_truncated_below_a_signed_checkpoint_stop_the_writer_and_fail_the_audit(fresh: LogStore) -> None:
    logged_store(fresh)
    command(fresh, f"ALTER TABLE {LEAVES_TABLE} DELETE WHERE LeafIndex >= 100 SETTINGS mutations_sync = 2")
    command(fresh, f"ALTER TABLE {RECORDS_TABLE} DELETE WHERE LeafIndex >= 100 SETTINGS mutations_sync = 2")
    with pytest.raises(LogIntegrityError, match="checkpoint of size 120"):
        TransparencyLog.open(fresh, SIGNER)
    report = audit(fresh)
    assert any("truncated" in p for p in report.logs[0].problems)


def test_a_stored_checkpoint_rewritten_to_match_a_rewritten_log_fails_against_the_auditors_copy(fresh: LogStore) -> None:
    logged_store(fresh)
    saved = LogTables(fresh, SIGNER.name).latest_checkpoint()
    assert saved is not None
    # Leaf 4 rewritten with its record, tree and checkpoints made to agree: only the auditor's
    # saved checkpoint (or a witness's) still shows the change.
    command(fresh, f"ALTER TABLE {RECORDS_TABLE} UPDATE SpanName = 'x' WHERE LeafIndex = 4 SETTINGS mutations_sync = 2")
    tables = LogTables(fresh, SIGNER.name)
    (index, salt, values), = tables.records_from(4, 5)
    entry = record_entry(salt, values)
    from ldv_logboek.tlog import leaf_hashes

    command(fresh, f"ALTER TABLE {LEAVES_TABLE} DELETE WHERE LeafIndex = 4 SETTINGS mutations_sync = 2")
    tables.insert_leaves(4, [entry], leaf_hashes([entry]))
    command(fresh, f"ALTER TABLE {CHECKPOINTS_TABLE} DELETE WHERE 1 SETTINGS mutations_sync = 2")
    command(fresh, "ALTER TABLE ldv_tlog_nodes DELETE WHERE 1 SETTINGS mutations_sync = 2")
    forged = TransparencyLog.open(fresh, SIGNER)
    forged.sign_checkpoint()
    assert audit(fresh).ok  # the store agrees with itself now
    report = audit(fresh, trusted=[saved[2]])
    assert any("trusted checkpoint of size 120 and a stored one differ (a fork)" in p for p in report.logs[0].problems), report.lines()


def test_checkpoints_are_kept_for_good_once_an_hour_and_the_rest_expire(fresh: LogStore) -> None:
    log = logged_store(fresh)  # signed one checkpoint: the first of this process, kept
    write(fresh, log, batches=1, per=5)
    assert log.sign_checkpoint()[2] is False  # the same hour: removed after 30 days
    keeps = fresh.query_rows(f"SELECT Size, Keep FROM {CHECKPOINTS_TABLE} ORDER BY Size", {})
    assert [tuple(r) for r in keeps] == [(120, 1), (125, 0)]
    ttl = fresh.query_rows(f"SELECT create_table_query FROM system.tables WHERE name = '{CHECKPOINTS_TABLE}'", {})[0][0]
    assert "TTL toDateTime(CreatedAt) + toIntervalDay(30) WHERE Keep = 0" in ttl  # DELETE, the default action
    tables = LogTables(fresh, SIGNER.name)
    assert [size for size, _, _ in tables.checkpoints(kept_only=True)] == [120, 125]  # kept, and the newest
    assert audit(fresh).ok


def test_the_audit_in_small_chunks_finds_every_stored_checkpoints_root_and_each_tampered_leaf(fresh: LogStore) -> None:
    # Chunks of 8 leaves: checkpoints signed at sizes inside and at the ends of chunks, roots
    # rebuilt from the chunks' levels; then a stored leaf hash and a leaf entry rewritten.
    # The auditor saved every checkpoint (sizes 5, 8, 19, 20, 37), so each root is checked.
    log = TransparencyLog.open(fresh, SIGNER)
    saved = []
    for per in (5, 3, 11, 1, 17):
        write(fresh, log, batches=1, per=per)
        saved.append(log.sign_checkpoint()[1].serialize())
    assert log.size == 37
    for chunk in (8, 32, 1 << 18):
        report = audit(fresh, chunk=chunk, trusted=saved)
        assert report.ok, report.lines()
        assert report.logs[0].root == log.head().root
    command(fresh, f"ALTER TABLE {LEAVES_TABLE} UPDATE LeafHash = unhex(repeat('00', 32)) WHERE LeafIndex = 9 SETTINGS mutations_sync = 1")
    lines = "\n".join(audit(fresh, chunk=8, trusted=saved).lines())
    assert "1 stored leaf hash(es) do not hash their entry, at 9" in lines
    assert "leaves do not give the root" not in lines  # the tree is rebuilt from the entries
    command(fresh, f"ALTER TABLE {LEAVES_TABLE} UPDATE Entry = unhex(concat('02', repeat('00', 40))) WHERE LeafIndex = 20 SETTINGS mutations_sync = 1")
    lines = "\n".join(audit(fresh, chunk=8, trusted=saved).lines())
    assert "changed since they were logged, at 20" in lines
    assert "leaves do not give the root of the checkpoint of size 37" in lines
    assert "of size 20" not in lines and "of size 19" not in lines


def test_proofs_from_the_store_in_one_read_match_proofs_from_the_leaves_cold_warm_and_grown(fresh: LogStore) -> None:
    # 700 leaves: level-0 tiles 0, 1 (full) and 2 (partial), two level-8 nodes; proofs at
    # several sizes through one shared cache (partial tiles cached as prefixes, then extended).
    import os

    from ldv_logboek.storage import StoredTree
    from ldv_logboek.tlog import CompactRange, LeafHashes, inclusion_proof, leaf_hashes

    tables = LogTables(fresh, "logboek.test/proofs")
    entries = [b"\x01" + os.urandom(40) for _ in range(700)]
    hashes = leaf_hashes(entries)
    nodes: list[tuple[int, int, bytes]] = []
    CompactRange(on_node=lambda lvl, idx, h: nodes.append((lvl, idx, h)), report_levels=frozenset({8})).extend(hashes)
    tables.insert_leaves(0, entries, hashes)
    tables.insert_nodes(nodes)
    tree = StoredTree(tables, 300, cache_tiles=2)
    for size in (300, 513, 700):
        tree = tree.grown(size)
        for index in (0, 1, 255, 256, 299, size - 1, size // 2):
            entry, path = tree.proof(index)
            assert entry == entries[index]
            assert path == inclusion_proof(LeafHashes(hashes[:size]), index, size)
    cold = StoredTree(tables, 700)
    assert cold.proof(600)[1] == inclusion_proof(LeafHashes(hashes), 600, 700)
    with pytest.raises(LogIntegrityError):
        StoredTree(tables, 701).proof(3)  # leaf 700 is not stored


def test_tile_nodes_are_stored_with_the_checkpoint_that_covers_them(fresh: LogStore) -> None:
    # The writer keeps the level-8 nodes its batches complete; the checkpoint stores them first,
    # so a proof from the store at the signed size finds every node it needs.
    from ldv_logboek.storage import StoredTree
    from ldv_logboek.tlog import verify_inclusion

    log = TransparencyLog.open(fresh, SIGNER)
    write(fresh, log, batches=3, per=200)
    tables = LogTables(fresh, SIGNER.name)
    assert tables.node_count(8) == 0  # not one insert per batch
    checkpoint, _, _ = log.sign_checkpoint()
    assert checkpoint.size == 600 and tables.node_count(8) == 2
    for index in (0, 300, 599):
        entry, path = StoredTree(tables, 600).proof(index)
        assert verify_inclusion(index, 600, leaf_hash(entry), path, checkpoint.root)


def test_a_leaf_stored_again_with_other_contents_is_rewritten_and_a_retried_copy_is_not(fresh: LogStore) -> None:
    # Merges stopped, so both rows of an index stay side by side as the audit reads them.
    logged_store(fresh)
    command(fresh, f"SYSTEM STOP MERGES {LEAVES_TABLE}")
    tables = LogTables(fresh, SIGNER.name)
    (_, entry, hash_), = tables.leaves(4, 5)
    tables.insert_leaves(4, [entry], [hash_])  # a retried insert: the same leaf again
    assert audit(fresh).ok
    other = bytes([1]) + bytes(40)
    tables.insert_leaves(3, [other], [leaf_hash(other)])
    lines = "\n".join(audit(fresh).lines())
    assert "leaves stored twice with different contents at 3 (rewritten)" in lines
    assert "at 3, 4" not in lines  # the retried copy of leaf 4 is no rewrite
