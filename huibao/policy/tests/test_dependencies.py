"""Dependencies run one way: the policy sits below the application (pyproject's "apps" contract)
and no module of it imports the application — not at the top, not inside a function, not for
its models, states or rules. It learns what it needs through typed values
(`policy.issuance.IssuanceRequest`) and its hooks."""

from __future__ import annotations

import ast
from pathlib import Path

import huibao

POLICY = Path(huibao.__file__).parent / "policy"


def _imported(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
    return found


def _sources() -> list[Path]:
    # tests build applications to issue from, and migrations backfill from the application's
    # rows through the historical models: both outside the contract
    return [
        p
        for p in POLICY.rglob("*.py")
        if "tests" not in p.relative_to(POLICY).parts and "migrations" not in p.relative_to(POLICY).parts
    ]


def test_no_policy_module_imports_the_application() -> None:
    sources = _sources()
    assert len(sources) > 15  # the walk finds the app's modules
    offenders = [
        f"{path.relative_to(POLICY)}: {module}"
        for path in sources
        for module in _imported(path)
        if module == "huibao.application" or module.startswith("huibao.application.")
    ]
    assert offenders == []


def test_the_import_contract_ignores_no_import_of_the_policy_from_the_application() -> None:
    # the "apps" contract of pyproject.toml holds the policy below the application with no
    # exception left for it (lint-imports, in `make lint`, checks the contract itself)
    import tomllib

    config = tomllib.loads((Path(huibao.__file__).parent.parent / "pyproject.toml").read_text())
    (apps,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "apps"]
    layers = [{name.strip() for name in layer.split("|")} for layer in apps["layers"]]

    def index(app: str) -> int:
        return next(i for i, layer in enumerate(layers) if app in layer)

    assert index("application") < index("policy")
    assert [i for i in apps["ignore_imports"] if i.startswith("huibao.policy")] == []
