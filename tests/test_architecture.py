"""The map and the layout rules of ARCHITECTURE.md: its paths exist, no module grows past 500 lines, and the
mechanisms app imports nothing from the registry."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500
PACKAGES = ["trials", "mechanisms", "config"]


def backticked_paths(text):
    """Every backticked word that names a file or folder of the repository: one with a slash, or a file name with
    an extension. Addresses of the site (`/trials/export.csv`) start with a slash and are not paths."""
    words = re.findall(r"`([^`\s]+)`", text)
    return sorted(
        {
            word
            for word in words
            if not word.startswith("/") and ("/" in word or re.fullmatch(r"[\w.-]+\.(py|md|json|html|txt)", word))
        }
    )


def source_modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_map_names_paths():
    paths = backticked_paths((ROOT / "ARCHITECTURE.md").read_text())
    assert "trials/status.py" in paths and "trials/exports.py" in paths
    assert len(paths) >= 20


@pytest.mark.parametrize("document", ["ARCHITECTURE.md", "docs/adr/README.md"])
def test_every_path_in_the_map_exists(document):
    missing = [path for path in backticked_paths((ROOT / document).read_text()) if not (ROOT / path).exists()]
    assert missing == []


def test_the_behaviour_table_has_at_least_20_rows():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    table = text.split("## Behaviour → file", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) >= 20


def test_no_module_is_over_500_lines():
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in source_modules()}
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}


def test_mechanisms_imports_nothing_from_trials():
    imports = []
    for path in sorted((ROOT / "mechanisms").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            imports += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] == "trials"]
    assert imports == []
