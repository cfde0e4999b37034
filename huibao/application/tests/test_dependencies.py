"""Dependencies run one way: the engines the application uses (underwriting, policy, payment,
identity, e-signature, rating, catalog) never import the application's use-cases — they announce
what happened through their hooks — and no module hides such an import inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import huibao

ROOT = Path(huibao.__file__).parent
ENGINES = ("underwriting", "policy", "payment", "identity", "esign", "rating", "catalog", "core", "sandbox")
APPLICATION_SERVICES = "huibao.application.services"
# Reads and rules the use-cases build on: they never reach back into the use-cases.
BELOW_SERVICES = (
    "selectors.py",
    "journey.py",
    "premium.py",
    "rules.py",
    "models.py",
    "states.py",
    "evidence/trace.py",
)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, inside a function) for every import of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and child.module:
                found.extend((f"{child.module}.{a.name}", inner) for a in child.names)
                found.append((child.module, inner))
            elif isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names)
            visit(child, inner)

    visit(tree, False)
    return found


# Not an engine's flow: the demo set-up plays the demo customer, who walks the application's
# use-cases as any customer does and pays at the sandbox gateway (only the sandbox may).
CUSTOMER_PLAYERS = frozenset({Path("sandbox/demo.py")})


def _sources(*parts: str) -> list[Path]:
    return [
        p
        for p in ROOT.joinpath(*parts).rglob("*.py")
        if "tests" not in p.parts and p.relative_to(ROOT) not in CUSTOMER_PLAYERS
    ]


def test_no_engine_imports_the_application_services() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for engine in ENGINES
        for path in _sources(engine)
        for module, _nested in _imports(path)
        if module.startswith(APPLICATION_SERVICES) or module == "huibao.application.api.router"
    ]
    assert offenders == []


def test_reads_and_rules_of_the_application_never_import_its_use_cases() -> None:
    offenders = [
        f"{name}: {module}"
        for name in BELOW_SERVICES
        for module, _nested in _imports(ROOT / "application" / name)
        if module.startswith(APPLICATION_SERVICES)
    ]
    assert offenders == []


def test_the_application_services_are_never_imported_inside_a_function() -> None:
    # apps.py registers the hook listeners in `ready()`, once the models are loaded: the only one
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in ROOT.rglob("*.py")
        if path.name != "apps.py"
        for module, nested in _imports(path)
        if nested and module.startswith(APPLICATION_SERVICES)
    ]
    assert offenders == []
