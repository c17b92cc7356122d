"""How the apps stand on each other: the recovery record (`incidents`) at the bottom, the engine
(`followups`) on it, and the doors (`helpdesk`, `insights`, the settings pages) on both. Read from the
source, so a shortcut taken under a deadline shows up here rather than as an import cycle later."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["incidents", "followups", "helpdesk", "insights", "outreach", "organization_settings", "signing_in", "recovery"]
# The record's own modules: what a recovery is and how it is written.
RECORD = ["models.py", "services", "clock.py", "events.py", "selectors.py"]


def modules(app, only=None):
    for path in sorted((ROOT / app).rglob("*.py")):
        relative = path.relative_to(ROOT / app)
        if "migrations" in relative.parts:
            continue
        if only and not any(relative.parts[0] == part for part in only):
            continue
        yield path, ast.parse(path.read_text(), filename=str(path))


def imported(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def top(name):
    return name.split(".")[0]


def test_the_record_imports_neither_the_api_nor_the_console():
    found = [(path.name, name) for path, tree in modules("incidents") for name in imported(tree)
             if top(name) in {"helpdesk", "insights"}]
    assert found == []


def test_the_record_imports_nothing_that_messages_customers():
    """What the customer hears (outreach) stands on the record; a page of the record may call it,
    the record's own modules never do."""
    found = [(path.name, name) for path, tree in modules("incidents", RECORD) for name in imported(tree)
             if top(name) == "outreach"]
    assert found == []


def test_the_records_own_modules_import_nothing_from_the_engine():
    found = [(path.name, name) for path, tree in modules("incidents", RECORD) for name in imported(tree)
             if top(name) == "followups"]
    assert found == []


@pytest.mark.parametrize("app", APPS)
def test_no_model_is_looked_up_by_name_to_hide_an_import(app):
    found = [path.name for path, tree in modules(app) for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "get_model"]
    assert found == []


@pytest.mark.parametrize("app", APPS)
def test_module_imports_stand_at_the_top(app):
    late = []
    for path, tree in modules(app):
        seen_code = False
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                seen_code = True
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and seen_code:
                late.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert late == []
