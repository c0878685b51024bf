"""Each package's public names are pinned, and the `ldv` command uses the other components only through them.

A name leaves or joins a package's `__all__` on purpose: change PUBLIC here with it. The
components' other modules are internal and may change without notice.
"""

from __future__ import annotations

import ast
import importlib

import pytest

from tests.conftest import REPO_ROOT

PUBLIC: dict[str, set[str]] = {
    "ldv_logboek": {
        "Event", "LdvError", "Link", "LogRecord", "Status", "Violation", "check_record", "is_bsn", "pseudonymise",
        # the record pipeline, for the SDK and the collector
        "DEFAULT_NAME", "MIN_KEY_BYTES", "Policy", "Pseudonymiser", "attribute_text", "attributes_to_dict",
        "contains_bsn", "is_uri", "key_is_long_enough", "may_need_protection", "protect", "records_of",
        "redact_bsns", "span_to_record",
        # the one rule for which subject id is a clear id: the collector's and the read side's (issue 19)
        "BSN_AS_DIGITS", "subject_clear_bsn",
        # trace ids as the read API shows them
        "parse_trace_id", "trace_id_as_uuid",
    },
    "ldv_logboek.storage": {
        "DASHBOARD_RECORDS_VIEW", "DASHBOARD_REJECTIONS_VIEW", "DASHBOARD_SUBJECTS_VIEW", "INGESTED_AT_UNKNOWN",
        "READ_SETTINGS", "RECORDS_TABLE", "MIGRATIONS_TABLE", "REGISTER_ORGANISATIONS_TABLE",
        # query bounds, and the insert schema the collector's ingest builds its rows in
        "MAX_PAGE_SIZE", "MAX_TIME_MS", "MIN_TIME_MS", "ROWS_SCHEMA", "records_of_rows", "rows_table",
        "times",
        "REGISTER_VERSIONS_TABLE", "REJECTIONS_TABLE",
        "SCHEMA_VERSION", "ActivityWindow", "ConnectionPool", "Cursor", "Lane", "LogStore", "Page",
        "RecordQuery", "RegisterStore", "SaveResult", "StorageError", "StorageFault", "StorageUnavailable", "cluster_script", "connect",
        "embedded_path", "migrate", "out_of_space", "redact", "storage_error",
        # the transparency log's persistence, writer side and audit
        "CHECKPOINTS_TABLE", "LEAVES_TABLE", "NODES_TABLE", "AuditReport", "LogAudit", "LogTables", "StoredTree",
        "TransparencyLog", "audit_store",
        # the logs' full tiles as files, copied behind the checkpoints (`ldv serve` runs the mirror)
        "TileFiles", "TileMirror",
        # where a record is in its log, for the readers' receipts (ldv_inzicht)
        "leaf_entries", "record_positions", "stored_entries",
    },
    "ldv_logboek.tlog": {
        "COSIGNATURE_V1", "ED25519", "EMPTY_ROOT", "ENTRY_SIZE", "FIELD_NAMES", "HASH_SIZE", "RECORD_FIELDS", "SALT_SIZE",
        "TILE_HEIGHT", "TILE_WIDTH", "VOID_ENTRY", "AddCheckpoint", "Checkpoint", "CompactRange", "Decision",
        "LeafHashes", "LogIntegrityError", "NodeSource", "Note", "NoteError", "NoteSignature", "ProofError", "Receipt", "RecordOpening",
        "Signer", "TileRef", "TransparencyLogError", "Verifier", "consistency_proof", "cosign", "cosignature_time",
        "cosigned_message", "decide", "edge_nodes", "encode_index", "encode_record", "entry_bundle", "expires_at",
        "inclusion_proof", "key_id", "leaf_hash", "leaf_hashes", "load_signer", "log_id", "node_hash", "open_checkpoint",
        "parse_entry", "parse_note", "parse_signature_lines", "parse_tile_path", "perfect_root", "read_entry_bundle",
        "record_digest", "record_entry", "root_from_inclusion", "root_of", "sign_note", "subtree_root", "tile_exists", "node_in_tiles",
        "tiles_for", "tree_root", "verify_consistency", "verify_inclusion", "verify_receipt",
    },
    "ldv_logboek.register": {
        "ActivityVersion", "DpvLegalBasis", "LegalBasis", "Organisation", "ProcessingActivity", "Register",
        "RegisterConflict", "RegisterError", "RegisterFileError",
        "load_register_files", "parse_register_text", "register_paths",
    },
    "ldv_logboek.settings": {
        "ORGANISATION_KEYS_VARIABLE", "SHARED_VARIABLES", "OrganisationKeys", "OrganisationKeysSource",
        "SettingsWithOrganisationKeys", "organisation_keys_field",
    },
    "ldv_sdk": {
        "ConfigurationError", "Declaration", "LdvConfig", "LdvError", "LdvMiddleware", "LdvPropagator",
        "LdvWsgiMiddleware", "LoggingFailed", "ProcessingReentered", "Spool", "SpoolClosed", "SpoolDiskFull", "SpoolFull", "Verwerking",
        "configure", "current", "flush", "shutdown", "verwerking",
    },
    "ldv_collector": {
        "TRACES_PATH", "ClientCertificateHTTP", "Collector", "CollectorError", "CollectorMetrics", "CollectorSettings",
        "GroupCommitWriter", "SenderSettings", "WitnessSettings", "WriterStopped", "create_app", "create_grpc_server", "token_sha256",
    },
    "ldv_inzicht": {
        "ApiSettings", "AuthSettings", "InzageResponse", "InzageSettings", "InzichtError", "create_app",
        "include_api", "local_inzage", "mint_demo_token",
        # the transparency logs over HTTP (C2SP tlog-tiles), beside the API on its port
        "LOG_PREFIX", "create_log_app", "log_id", "with_log_routes",
    },
    "ldv_inzicht.clickhouse_http": {
        "SUPERVISOR", "ClickHouseHttpSettings", "ClickHouseUser", "NotEmbeddedStore", "create_app", "running",
    },
    "ldv_dashboards": {
        "DASHBOARDS", "SOURCE_ROOT", "Endpoint", "PushResult", "dashboard_json", "in_source_checkout", "push", "stale",
        "write",
    },
    "ldv_suite": set(),  # the `ldv` command: its interface is the command line
}
# Modules documented as public that have no `__init__` of their own: their names without a
# leading underscore are public (the core's attribute vocabulary, the SDK's client and test helpers).
PUBLIC_MODULES = {"ldv_logboek.attributes", "ldv_logboek.rules", "ldv_logboek.rule_columns", "ldv_sdk.clients", "ldv_sdk.testing"}
COMPONENTS = ("ldv_logboek", "ldv_sdk", "ldv_collector", "ldv_inzicht", "ldv_dashboards")
# The SDK's modules without a leading underscore: its package, the documented modules, its error
# tree and settings table (`errors.py`, `settings.py` in every package), and the pytest plugin that
# its `pytest11` entry point names. Every other module of the SDK is internal (`_runtime`, ...).
SDK_PUBLIC_MODULES = {"clients", "errors", "pytest_plugin", "settings", "testing"}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names_are_pinned(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == PUBLIC[package]
    assert len(module.__all__) == len(set(module.__all__))
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names {missing}, which it does not have"


def _imports_of_components(tree: ast.AST) -> list[tuple[int, str, str | None]]:
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in COMPONENTS:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] in COMPONENTS]
    return found


def test_the_cli_uses_only_public_names_of_the_components() -> None:
    wrong = []
    for path in sorted((REPO_ROOT / "cli/src/ldv_suite").rglob("*.py")):
        for line, module, name in _imports_of_components(ast.parse(path.read_text())):
            where = f"{path.relative_to(REPO_ROOT)}:{line}"
            if module in PUBLIC:
                if name is not None and name not in PUBLIC[module] and f"{module}.{name}" not in PUBLIC_MODULES:
                    wrong.append(f"{where}: {module}.{name} is not in {module}.__all__")
            elif module in PUBLIC_MODULES:
                if name is not None and name.startswith("_"):
                    wrong.append(f"{where}: {module}.{name} is private")
            else:
                wrong.append(f"{where}: {module} is an internal module")
    assert not wrong, "\n".join(wrong)


# Per package folder: the modules without a leading underscore. Every other module is internal.
PLAIN_MODULES: dict[str, set[str]] = {
    "sdk/src/ldv_sdk": SDK_PUBLIC_MODULES,
    "logboek/src/ldv_logboek": {"attributes", "errors", "rule_columns", "rules", "settings"},
    "logboek/src/ldv_logboek/storage": set(),
    "logboek/src/ldv_logboek/register": set(),
    "logboek/src/ldv_logboek/tlog": set(),
    "collector/src/ldv_collector": {"errors", "settings"},
    "inzicht_api/src/ldv_inzicht": {"errors", "settings"},
    "inzicht_api/src/ldv_inzicht/clickhouse_http": {"errors", "settings"},
    "inzicht_api/src/ldv_inzicht/inzage": set(),
}


@pytest.mark.parametrize("folder", sorted(PLAIN_MODULES))
def test_internal_modules_have_a_leading_underscore(folder: str) -> None:
    plain = {p.stem for p in (REPO_ROOT / folder).glob("*.py") if not p.stem.startswith("_")}
    assert plain == PLAIN_MODULES[folder]


SOURCES = {
    "ldv_logboek": "logboek/src/ldv_logboek",
    "ldv_sdk": "sdk/src/ldv_sdk",
    "ldv_collector": "collector/src/ldv_collector",
    "ldv_inzicht": "inzicht_api/src/ldv_inzicht",
    "ldv_dashboards": "dashboards/src/ldv_dashboards",
    "ldv_suite": "cli/src/ldv_suite",
}


@pytest.mark.parametrize("component", sorted(SOURCES))
def test_no_component_imports_another_components_internal_modules(component: str) -> None:
    wrong = []
    for path in sorted((REPO_ROOT / SOURCES[component]).rglob("*.py")):
        for line, module, name in _imports_of_components(ast.parse(path.read_text())):
            if module.split(".")[0] == component:
                continue
            dotted = module if name is None else f"{module}.{name}"
            if any(part.startswith("_") for part in dotted.split(".")):
                wrong.append(f"{path.relative_to(REPO_ROOT)}:{line}: {dotted} is internal to {module.split('.')[0]}")
    assert not wrong, "\n".join(wrong)


def test_the_sdk_entry_points_name_importable_objects() -> None:
    """`OTEL_PROPAGATORS=...,ldv` and the pytest plugin load through the distribution's entry points."""
    from importlib.metadata import entry_points

    import ldv_sdk

    (propagator,) = entry_points(group="opentelemetry_propagator", name="ldv")
    assert propagator.load() is ldv_sdk.LdvPropagator
    (plugin,) = entry_points(group="pytest11", name="ldv_sdk")
    assert plugin.load().__name__ == "ldv_sdk.pytest_plugin"


# The core's modules behind the names of `ldv_logboek.__all__` (the record pipeline and its parts).
CORE_MODULES = {
    f"ldv_logboek.{m}" for m in ("errors", "_keys", "_otlp", "_protect", "_pseudonym", "_record")
}


@pytest.mark.parametrize("source", ["sdk/src/ldv_sdk", "collector/src/ldv_collector"])
def test_the_sdk_and_the_collector_take_the_record_pipeline_from_the_cores_public_names(source: str) -> None:
    wrong = []
    for path in sorted((REPO_ROOT / source).rglob("*.py")):
        for line, module, name in _imports_of_components(ast.parse(path.read_text())):
            if module in CORE_MODULES:
                wrong.append(f"{path.relative_to(REPO_ROOT)}:{line}: {module}.{name}: import it from ldv_logboek")
            elif module == "ldv_logboek" and name is not None and name not in PUBLIC["ldv_logboek"] and name != "attributes":
                wrong.append(f"{path.relative_to(REPO_ROOT)}:{line}: ldv_logboek.{name} is not public")
    assert not wrong, "\n".join(wrong)
