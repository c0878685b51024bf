"""The transparency log's commands: `ldv log-key`, `ldv audit`, `ldv verify ...`, `ldv witness`.

Registered on the `ldv` app by `ldv_suite.cli`. See docs/architecture.md, "The transparency log".
"""

from __future__ import annotations

import base64
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Annotated, Optional

import typer

from ldv_logboek.tlog import (
    COSIGNATURE_V1,
    ED25519,
    TILE_HEIGHT,
    TILE_WIDTH,
    Checkpoint,
    NoteError,
    Receipt,
    Signer,
    TileRef,
    Verifier,
    consistency_proof,
    load_signer,
    parse_entry,
    parse_note,
    perfect_root,
    verify_consistency,
    verify_receipt,
)
from ldv_suite._settings_loading import serve_settings

verify_app = typer.Typer(help="Check receipts and checkpoints with public data only (the log's and witnesses' keys).", no_args_is_help=True)

LogKeyOpt = Annotated[list[str], typer.Option("--log-key", help="The log's verifier key (name+id+key); repeatable.")]
WitnessKeyOpt = Annotated[
    Optional[list[str]], typer.Option("--witness-key", help="A witness's verifier key (type 0x04); repeatable.")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"ldv: {message}", err=True)
    return typer.Exit(code)


def _verifiers(vkeys: list[str] | None, sig_type: int) -> list[Verifier]:
    out = []
    for vkey in vkeys or []:
        try:
            verifier = Verifier.parse(vkey)
        except NoteError as exc:
            raise _fail(f"bad key {vkey.split('+', 1)[0]!r}: {exc}", 2) from None
        if verifier.sig_type != sig_type:
            raise _fail(f"key {verifier.name} is of type {verifier.sig_type}, {sig_type} expected", 2)
        out.append(verifier)
    return out


def log_key_command(
    name: Annotated[str, typer.Argument(help="The key's name: the log's origin (e.g. logboek.gemeente.example/ldv) or the witness's name.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the private key to this file (mode 0600) instead of stdout.")] = None,
    witness: Annotated[bool, typer.Option("--witness", help="A witness's cosigning key (type 0x04) instead of a log key.")] = False,
) -> None:
    """Make an Ed25519 key: the private key (PRIVATE+KEY+..., a secret) and its verifier key (public)."""
    try:
        signer = Signer.generate(name, COSIGNATURE_V1 if witness else ED25519)
    except NoteError as exc:
        raise _fail(str(exc), 2) from None
    if out is not None:
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise _fail(f"{out} exists; not overwritten", 2) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(signer.text + "\n")
        typer.echo(f"private key written to {out}", err=True)
    else:
        typer.echo(signer.text)
    typer.echo(f"verifier key: {signer.verifier.vkey}", err=True)


def audit_command(
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with settings (see README).")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Directory of the embedded store.")] = None,
    store_dsn: Annotated[Optional[str], typer.Option("--store-dsn", help="ClickHouse server instead of the embedded store.")] = None,
    log_key: Annotated[Optional[list[str]], typer.Option("--log-key", help="A log's verifier key: its checkpoints' signatures are checked; repeatable.")] = None,
    checkpoint: Annotated[
        Optional[list[Path]],
        typer.Option("--checkpoint", help="A checkpoint saved before (last audit, a witness): the log must extend it; repeatable."),
    ] = None,
    save_checkpoints: Annotated[
        Optional[Path], typer.Option("--save-checkpoints", help="Folder to save each log's newest checkpoint in, for the next audit.")
    ] = None,
) -> None:
    """Replay every transparency log in the store against its records; exit 0 only when all holds."""
    from ldv_logboek.storage import LogStore, StorageError, audit_store
    settings = serve_settings(config, data_dir=data_dir, store_dsn=store_dsn)
    if settings.store_dsn is None and not settings.data_dir.exists():
        raise _fail(f"no store at {settings.data_dir}", 2)
    keys = {v.name: v for v in _verifiers(log_key, ED25519)}
    trusted = [p.read_text(encoding="utf-8") for p in checkpoint or []]
    try:
        store = LogStore.open(settings.dsn(), readers=2)
    except StorageError as exc:
        raise _fail(f"cannot open the store: {exc}", 2) from None
    try:
        report = audit_store(store, log_keys=keys, trusted=trusted)
    finally:
        store.close()
    for line in report.lines():
        typer.echo(line)
    if save_checkpoints is not None:
        save_checkpoints.mkdir(parents=True, exist_ok=True)
        for audit in report.logs:
            if audit.newest_checkpoint and not audit.problems:
                target = save_checkpoints / (audit.origin.replace("/", "_") + ".checkpoint")
                target.write_text(audit.newest_checkpoint, encoding="utf-8")
    if not report.ok:
        raise typer.Exit(1)


class HttpTiles:
    """A NodeSource over a log served as tlog-tiles at `prefix` (`.../log/<id>/`), for a tree of `size`."""

    def __init__(self, prefix: str, size: int):
        self.prefix = prefix.rstrip("/") + "/"
        self.size = size
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def _tile(self, tile_level: int, index: int) -> list[bytes]:
        key = (tile_level, index)
        if key not in self._tiles:
            count = self.size >> (TILE_HEIGHT * tile_level)
            width = min(TILE_WIDTH, count - index * TILE_WIDTH)
            with urllib.request.urlopen(self.prefix + TileRef(tile_level, index, width).path, timeout=30) as response:  # noqa: S310
                data = response.read()
            if len(data) != 32 * width:
                raise NoteError(f"tile {tile_level}/{index} is {len(data)} bytes, not {32 * width}")
            self._tiles[key] = [data[i : i + 32] for i in range(0, len(data), 32)]
        return self._tiles[key]

    def node(self, level: int, index: int) -> bytes:
        base = level - level % TILE_HEIGHT
        span = 1 << (level - base)
        tile_index, offset = divmod(index * span, TILE_WIDTH)
        return perfect_root(self._tile(base // TILE_HEIGHT, tile_index)[offset : offset + span])


def _open(path: Path, log: Verifier, witnesses: list[Verifier]) -> tuple[Checkpoint, list[str]]:
    try:
        note = parse_note(path.read_text(encoding="utf-8"))
        if note.signed_by(log) is None:
            raise NoteError(f"not signed by {log.name}")
        return Checkpoint.from_text(note.text), [w.name for w in witnesses if note.signed_by(w) is not None]
    except (NoteError, OSError) as exc:
        raise _fail(f"{path}: {exc}") from None


@verify_app.command("checkpoints")
def verify_checkpoints(
    old: Annotated[Path, typer.Argument(help="The earlier checkpoint (a file).")],
    new: Annotated[Path, typer.Argument(help="The later checkpoint (a file).")],
    log_key: LogKeyOpt,
    witness_key: WitnessKeyOpt = None,
    log_url: Annotated[
        Optional[str], typer.Option("--log-url", help="The log's tiles prefix (http(s)://host/log/<id>/) for the consistency proof.")
    ] = None,
) -> None:
    """Check that NEW extends OLD (same log, only appended): both signed, consistent; exit 0 when so."""
    logs = _verifiers(log_key, ED25519)
    witnesses = _verifiers(witness_key, COSIGNATURE_V1)
    first, second = (None, None)
    for log in logs:
        try:
            first, w1 = _open(old, log, witnesses)
            second, w2 = _open(new, log, witnesses)
            break
        except typer.Exit:
            continue
    if first is None or second is None:
        raise _fail("the checkpoints are not both signed by a --log-key")
    if first.origin != second.origin:
        raise _fail("the checkpoints are of different logs")
    if first.size > second.size:
        first, second, w1, w2 = second, first, w2, w1
    if first.size == second.size:
        if first.root != second.root:
            raise _fail(f"FORK: two checkpoints of size {first.size} with different roots, both signed by {first.origin}")
    elif log_url is None:
        raise _fail("different sizes: give --log-url to fetch the consistency proof", 2)
    else:
        proof = consistency_proof(HttpTiles(log_url, second.size), first.size, second.size)
        if not verify_consistency(first.size, second.size, first.root, second.root, proof):
            raise _fail(f"FORK: the checkpoint of size {second.size} does not extend the one of size {first.size}")
    typer.echo(
        f"OK: {second.origin} size {second.size} extends size {first.size}; cosigned by {', '.join(w2) or 'no given witness'}"
    )


@verify_app.command("receipt")
def verify_receipt_command(
    receipt: Annotated[Path, typer.Argument(help="A receipt (c2sp.org/tlog-proof@v1), '-' for stdin.")],
    log_key: LogKeyOpt,
    witness_key: WitnessKeyOpt = None,
    min_witnesses: Annotated[int, typer.Option(help="Cosignatures of the given witnesses needed.")] = 0,
) -> None:
    """Check a record's receipt offline: signature, cosignatures, inclusion; exit 0 when it holds."""
    text = sys.stdin.read() if str(receipt) == "-" else receipt.read_text(encoding="utf-8")
    witnesses = _verifiers(witness_key, COSIGNATURE_V1)
    errors = []
    for log in _verifiers(log_key, ED25519):
        try:
            checkpoint, parsed, cosigned = verify_receipt(text, log, witnesses, min_witnesses)
        except NoteError as exc:
            errors.append(str(exc))
            continue
        typer.echo(
            f"OK: entry {base64.b64encode(parsed.entry).decode()} is leaf {parsed.index} of {checkpoint.origin} "
            f"(size {checkpoint.size}); cosigned by {', '.join(cosigned) or 'no given witness'}"
        )
        return
    raise _fail("; ".join(errors) or "no --log-key")


PDF_RECEIPTS = "ldv-ontvangstbewijzen.json"  # the attachment's name (ldv_inzicht.inzage._pdf.RECEIPTS_NAME)


def _pdf_receipts(path: Path) -> list[tuple[str, str]]:
    """(record, receipt) of the receipts attached to a citizen's PDF overview; exit 2 when unreadable."""
    import json

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        attached = PdfReader(path).attachments.get(PDF_RECEIPTS)
    except (OSError, PyPdfError, ValueError) as exc:
        raise _fail(f"{path} is not a readable PDF: {exc}", 2) from None
    if not attached:
        raise _fail(f"{path} carries no receipts (no attachment {PDF_RECEIPTS})")
    try:
        items = json.loads(attached[0])["receipts"]
        return [(str(item["record"]), str(item["receipt"])) for item in items]
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(f"the attachment {PDF_RECEIPTS} is not a list of receipts: {exc}") from None


@verify_app.command("pdf")
def verify_pdf_command(
    pdf: Annotated[Path, typer.Argument(help="A citizen's PDF overview (`Download als PDF` on the inzage page).")],
    log_key: LogKeyOpt,
    witness_key: WitnessKeyOpt = None,
    min_witnesses: Annotated[
        Optional[int], typer.Option(help="Cosignatures of the given witnesses needed (default: 1 when any is given).")
    ] = None,
    since: Annotated[
        Optional[Path],
        typer.Option("--since", help="An earlier PDF overview (made without filters): each of its records must still "
                     "be in PDF with the same log entry, or be past its retention."),
    ] = None,
) -> None:
    """Check every receipt a PDF overview carries, offline; exit 0 only when all of them hold.

    With `--since OLD.pdf` also that nothing was removed since OLD: OLD's receipts must verify
    too, and every record in OLD must be in PDF with the same entry (so its receipt in PDF proves
    it is still in the log) or be past the retention its entry commits to.
    """
    witnesses = _verifiers(witness_key, COSIGNATURE_V1)
    logs = _verifiers(log_key, ED25519)
    needed = min_witnesses if min_witnesses is not None else (1 if witnesses else 0)
    receipts = _verify_pdf(pdf, logs, witnesses, needed)
    if since is not None:
        _nothing_removed(since, _verify_pdf(since, logs, witnesses, needed), pdf, receipts)


def _nothing_removed(
    old: Path, old_receipts: list[tuple[str, Receipt]], new: Path, new_receipts: list[tuple[str, Receipt]]
) -> None:
    """Every record of `old` is in `new` with the same entry, or past its retention now."""
    now = int(time.time())
    current = dict(new_receipts)
    kept = expired = 0
    missing = []
    for record, before in old_receipts:
        after = current.get(record)
        if after is not None and (after.index, after.entry) == (before.index, before.entry):
            kept += 1
            continue
        parsed = parse_entry(before.entry)
        if parsed is not None and parsed[0] <= now:
            expired += 1
            continue
        missing.append(record)
        what = "is not in" if after is None else "has another log entry in"
        typer.echo(f"MISSING: record {record} (leaf {before.index}) was in {old}, {what} {new}, "
                   "and is not past its retention", err=True)  # fmt: skip
    if missing:
        raise _fail(f"{len(missing)} records of {old} were removed or changed since")
    typer.echo(f"OK: every record of {old} is still in {new} ({kept}) or past its retention ({expired})")


def _verify_pdf(pdf: Path, logs: list[Verifier], witnesses: list[Verifier], needed: int) -> list[tuple[str, Receipt]]:
    """Check every receipt `pdf` carries (exit 1 when one fails); its (record, receipt) pairs."""
    receipts = _pdf_receipts(pdf)
    verified = []
    failed = 0
    origins: dict[str, int] = {}
    for record, text in receipts:
        errors = []
        for log in logs:
            try:
                checkpoint, receipt, _ = verify_receipt(text, log, witnesses, needed)
            except NoteError as exc:
                errors.append(str(exc))
                continue
            origins[checkpoint.origin] = max(origins.get(checkpoint.origin, 0), checkpoint.size)
            verified.append((record, receipt))
            break
        else:
            failed += 1
            typer.echo(f"FAILED: record {record}: {'; '.join(errors) or 'no --log-key'}", err=True)
    if failed or not receipts:
        raise _fail(f"{failed} of {len(receipts)} receipts in {pdf} do not verify")
    logs_text = ", ".join(f"{o} (size {n})" for o, n in sorted(origins.items()))
    typer.echo(f"OK: {len(receipts)} receipts in {pdf} verify against {logs_text}; "
               f"cosigned by at least {needed} of the given witnesses")
    return verified


def witness_command(
    key: Annotated[str, typer.Option("--key", envvar="LDV_WITNESS_KEY", help="The witness's private key (PRIVATE+KEY+..., type 0x04) or its file.")],
    log_key: LogKeyOpt,
    state: Annotated[Path, typer.Option("--state", help="JSON file of what it cosigned (made when missing).")] = Path("witness-state.json"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of add-checkpoint.")] = 8090,
) -> None:
    """Run a C2SP tlog-witness for the given logs: cosign each checkpoint consistent with the last."""
    import uvicorn

    from ldv_suite._witness_server import create_witness_app

    try:
        signer = load_signer(key, COSIGNATURE_V1)
    except NoteError as exc:
        raise _fail(f"--key: {exc}", 2) from None
    logs = _verifiers(log_key, ED25519)
    typer.echo(f"witness {signer.name}, verifier key {signer.verifier.vkey}; logs: {', '.join(v.name for v in logs)}", err=True)
    uvicorn.run(create_witness_app(signer, logs, state), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add the commands to the `ldv` app."""
    app.command("log-key")(log_key_command)
    app.command("audit")(audit_command)
    app.command("witness")(witness_command)
    app.add_typer(verify_app, name="verify")
