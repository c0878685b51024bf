"""The logs' full tiles copied to files (`TileMirror`, `TileFiles`) and proofs read from them.

The store is a real embedded chDB store; the log is written through the collector's writer or,
for a log large enough to have a full tile of level 1 (65,536 leaves), straight into the leaves
table as bench/tlog.py builds it. The tests that delete the leaves from the store after the copy
show that the proofs came from the files: without them, the same proofs fail."""

from __future__ import annotations

import os
import random
from pathlib import Path

import httpx
import pytest

from ldv_inzicht import create_log_app
from ldv_logboek.errors import LogIntegrityError
from ldv_logboek.storage import (
    LEAVES_TABLE,
    LogStore,
    LogTables,
    StoredTree,
    TileFiles,
    TileMirror,
    TransparencyLog,
)
from ldv_logboek.tlog import (
    ENTRY_SIZE,
    Checkpoint,
    CompactRange,
    Receipt,
    Signer,
    TileRef,
    entry_bundle,
    leaf_hash,
    leaf_hashes,
    log_id,
    read_entry_bundle,
    sign_note,
    verify_inclusion,
)
from tests.logboek.test_tlog_store import SIGNER, command, write
from tests.servers import serving

TILE_LEAVES = 256


def signed(store: LogStore, batches: int, per: int) -> tuple[TransparencyLog, Checkpoint]:
    log = TransparencyLog.open(store, SIGNER)
    write(store, log, batches=batches, per=per)
    checkpoint, _, _ = log.sign_checkpoint()
    return log, checkpoint


def copied(store: LogStore, batches: int, per: int) -> tuple[Checkpoint, TileFiles, LogTables]:
    """A log of `batches` x `per` records under a signed checkpoint, its full tiles copied."""
    _, checkpoint = signed(store, batches, per)
    files = store.tile_files
    assert files is not None
    TileMirror(store, files).run_once()
    return checkpoint, files, LogTables(store, SIGNER.name)


def drop_leaves_below(store: LogStore, end: int) -> None:
    command(store, f"ALTER TABLE {LEAVES_TABLE} DELETE WHERE LeafIndex < {end} SETTINGS mutations_sync = 2")


def test_an_embedded_store_keeps_its_tile_files_in_its_directory(tmp_path: Path, fresh: LogStore) -> None:
    assert fresh.tile_files is not None and fresh.tile_files.root == tmp_path / "db" / "tlog-tiles"


def test_the_full_tiles_under_the_checkpoint_are_copied_as_the_tiles_route_serves_them(fresh: LogStore) -> None:
    _, checkpoint = signed(fresh, batches=3, per=300)  # 900 leaves: three full tiles and a partial one
    assert checkpoint.size == 900
    files = fresh.tile_files
    assert files is not None
    mirror = TileMirror(fresh, files, chunk=2 * TILE_LEAVES)  # two reads: chunks end inside the log
    assert mirror.run_once() == 3 * TILE_LEAVES
    assert files.mirrored(SIGNER.name) == 3 * TILE_LEAVES
    tables = LogTables(fresh, SIGNER.name)
    for tile in range(3):
        leaves = tables.leaves(tile * TILE_LEAVES, (tile + 1) * TILE_LEAVES)
        assert files.read(SIGNER.name, TileRef(0, tile)) == b"".join(h for _, _, h in leaves)
        assert files.read(SIGNER.name, TileRef(None, tile)) == entry_bundle([e for _, e, _ in leaves])
        index = tile * TILE_LEAVES + 17
        assert files.entry(SIGNER.name, index) == leaves[17][1]
    # The partial tile stays in the fresh only; nothing new means nothing copied again.
    assert files.hashes(SIGNER.name, 0, 3) is None and files.entry(SIGNER.name, 3 * TILE_LEAVES) is None
    assert files.read(SIGNER.name, TileRef(0, 3, width=900 - 3 * TILE_LEAVES)) is None
    assert mirror.run_once() == 0


def test_leaves_not_yet_under_a_checkpoint_are_not_copied(fresh: LogStore) -> None:
    log = TransparencyLog.open(fresh, SIGNER)
    write(fresh, log, batches=2, per=300)
    files = fresh.tile_files
    assert files is not None
    mirror = TileMirror(fresh, files)
    assert mirror.run_once() == 0  # no checkpoint yet
    log.sign_checkpoint()
    assert mirror.run_once() == 2 * TILE_LEAVES


def test_proofs_come_from_the_files_once_copied_and_fail_without_them(fresh: LogStore, tmp_path: Path) -> None:
    checkpoint, files, tables = copied(fresh, batches=3, per=300)
    expected = {i: StoredTree(tables, checkpoint.size).proof(i) for i in (0, 300, 767, 800)}
    drop_leaves_below(fresh, 3 * TILE_LEAVES)  # the fresh no longer has the copied leaves
    for index in (0, 300, 767, 800):  # 800: in the partial tile, read from the fresh
        entry, proof = StoredTree(tables, checkpoint.size).proof(index)
        assert (entry, proof) == expected[index]
        assert verify_inclusion(index, checkpoint.size, leaf_hash(entry), proof, checkpoint.root)
    # Without the files the same fresh cannot prove a copied leaf any more.
    fresh.tile_files = TileFiles(tmp_path / "empty")
    with pytest.raises(LogIntegrityError):
        StoredTree(tables, checkpoint.size).proof(300)


def test_a_changed_file_gives_a_proof_that_fails_and_a_short_one_is_read_from_the_store(fresh: LogStore) -> None:
    checkpoint, files, tables = copied(fresh, batches=2, per=300)
    path = files.directory(SIGNER.name) / "level-0"
    data = bytearray(path.read_bytes())
    data[261 * 32] ^= 1  # leaf 261's hash, a sibling on leaf 260's path
    path.write_bytes(bytes(data))
    entry, proof = StoredTree(tables, checkpoint.size).proof(260)
    assert not verify_inclusion(260, checkpoint.size, leaf_hash(entry), proof, checkpoint.root)
    path.write_bytes(bytes(data[: 300 * 32]))  # cut short (not as the mirror writes): tile 1 is read from the fresh
    entry, proof = StoredTree(tables, checkpoint.size).proof(260)
    assert verify_inclusion(260, checkpoint.size, leaf_hash(entry), proof, checkpoint.root)


def test_a_large_log_is_copied_in_chunks_with_its_upper_tiles_as_its_checkpoints_grow(fresh: LogStore) -> None:
    leaves, origin = 70_000, "logboek.test/large"
    signer = Signer.generate(origin)
    raw = os.urandom(ENTRY_SIZE * leaves)
    hashes = leaf_hashes([raw[i : i + ENTRY_SIZE] for i in range(0, len(raw), ENTRY_SIZE)])
    nodes: list[tuple[int, int, bytes]] = []
    compact = CompactRange(on_node=lambda level, index, h: nodes.append((level, index, h)), report_levels=frozenset({8, 16}))
    compact.extend(hashes[:20_000])
    early = Checkpoint(origin, 20_000, compact.root())
    compact.extend(hashes[20_000:])
    tables = LogTables(fresh, origin)
    tables.insert_leaves(0, raw, b"".join(hashes))
    tables.insert_nodes(nodes)
    files = fresh.tile_files
    assert files is not None
    tables.save_checkpoint(early, sign_note(early.text, signer))
    mirror = TileMirror(fresh, files, chunk=8_192)
    assert mirror.run_once() == 20_000 // TILE_LEAVES * TILE_LEAVES
    assert files.hashes(origin, 1, 0) is None  # level 1, tile 0 needs 65,536 leaves
    # A copy cut short by a crash leaves bytes beyond the count: they are cut off, not kept.
    for name in ("level-0", "entries"):
        with open(files.directory(origin) / name, "ab") as file:
            file.write(b"x" * 1000)
    checkpoint = Checkpoint(origin, leaves, compact.root())
    tables.save_checkpoint(checkpoint, sign_note(checkpoint.text, signer))
    copied = leaves // TILE_LEAVES * TILE_LEAVES
    assert mirror.run_once() == copied - 20_000 // TILE_LEAVES * TILE_LEAVES
    assert (files.directory(origin) / "level-0").stat().st_size == copied * 32
    assert (files.directory(origin) / "entries").stat().st_size == copied * ENTRY_SIZE
    assert files.read(origin, TileRef(1, 0)) == b"".join(tables.nodes(8, 0, TILE_LEAVES))
    assert files.hashes(origin, 1, 1) is None  # level 1, tile 1 is not full at 70,000
    rng = random.Random(3)
    for index in [rng.randrange(0, copied) for _ in range(20)]:
        entry, proof = StoredTree(tables, leaves).proof(index)
        assert entry == raw[index * ENTRY_SIZE : (index + 1) * ENTRY_SIZE]
        assert verify_inclusion(index, leaves, hashes[index], proof, checkpoint.root)


def test_a_gap_in_the_stored_leaves_stops_the_copy_before_it(fresh: LogStore) -> None:
    _, checkpoint = signed(fresh, batches=3, per=300)
    command(fresh, f"ALTER TABLE {LEAVES_TABLE} DELETE WHERE LeafIndex = 600 SETTINGS mutations_sync = 2")
    files = fresh.tile_files
    assert files is not None
    assert TileMirror(fresh, files, chunk=TILE_LEAVES).run_once() == 2 * TILE_LEAVES
    assert files.mirrored(SIGNER.name) == 2 * TILE_LEAVES
    assert files.hashes(SIGNER.name, 0, 2) is None


def test_the_tlog_tiles_routes_serve_copied_tiles_and_proofs_without_the_stores_leaves(fresh: LogStore) -> None:
    checkpoint, files, tables = copied(fresh, batches=2, per=300)
    tile = b"".join(h for _, _, h in tables.leaves(0, TILE_LEAVES))
    bundle = entry_bundle([e for _, e, _ in tables.leaves(0, TILE_LEAVES)])
    drop_leaves_below(fresh, 2 * TILE_LEAVES)
    with serving(create_log_app(fresh)) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}/{log_id(SIGNER.name)}/") as client:
        assert client.get(TileRef(0, 0).path).content == tile
        assert client.get(TileRef(None, 0).path).content == bundle
        receipt = Receipt.parse(client.get("proof/100").text)
        assert receipt.index == 100 and receipt.entry == read_entry_bundle(bundle)[100]
        assert verify_inclusion(100, checkpoint.size, leaf_hash(receipt.entry), list(receipt.proof), checkpoint.root)
        assert client.get(TileRef(0, 2, width=600 - 2 * TILE_LEAVES).path).status_code == 200  # the partial tile: from the fresh


def test_closing_the_store_closes_the_tile_files_descriptors(fresh: LogStore) -> None:
    checkpoint, files, tables = copied(fresh, batches=2, per=300)
    assert StoredTree(tables, checkpoint.size).proof(10)  # reads the files: descriptors opened
    assert files._fds

    def open_tile_files() -> set[str]:  # what this process has open under the tile directory
        named = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                named.add(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                continue
        return {name for name in named if name.startswith(str(files.root))}

    assert open_tile_files()
    fresh.close()
    assert files._fds == {} and open_tile_files() == set()
