"""Networks reach the database only through the interface they are given (`CredentialStore`).

Nothing under `socialdesk/networks/` imports `socialdesk.store` or opens a session:
app.build hands each network its credential store, so a network package has no SQL and
no idea which database the tokens are in. The scan reads every import, including those
inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import socialdesk.networks

NETWORKS = Path(socialdesk.networks.__file__).resolve().parent

# The CLI's credential stores (cli.credential_stores) and app.build's are handed in.
KNOWN: dict[str, set[str]] = {}


def store_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return {m for m in modules if m == "socialdesk.store" or m.startswith("socialdesk.store.")}


def test_no_network_imports_the_store():
    found = {str(path.relative_to(NETWORKS)): imports for path in sorted(NETWORKS.rglob("*.py"))
             if (imports := store_imports(path))}
    assert found == KNOWN


def test_no_network_opens_a_session():
    found = [f"{path.relative_to(NETWORKS)}:{n}" for path in sorted(NETWORKS.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if "session_scope" in line or "sqlmodel" in line]
    assert found == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from socialdesk.store.db import make_engine\n    import socialdesk.store\n")
    assert store_imports(source) == {"socialdesk.store.db", "socialdesk.store"}
