"""`salt '*' sys.doc assist` is the user's manual: every public function has an example;
the Using page's table of functions is the module's."""

import ast
import inspect
import re

import pytest

from tests.conftest import REPO
from tests.unit.conftest import assist

PUBLIC = [
    name
    for name, func in inspect.getmembers(assist, inspect.isfunction)
    if not name.startswith("_") and func.__module__ == assist.__name__
]


def test_the_public_functions_are_the_documented_verbs():
    assert sorted(PUBLIC) == sorted(
        [
            "init_system",
            "status",
            "is_running",
            "stop",
            "start",
            "restart",
            "enable",
            "disable",
            "daemon_status",
            "remove_daemon",
            "version",
            "policy",
            "audit",
        ]
    )


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_function_has_a_cli_example_calling_itself(name):
    doc = inspect.getdoc(getattr(assist, name))
    assert "CLI Example:" in doc
    example = doc.split("CLI Example:", 1)[1]
    assert re.search(rf"salt '\*' assist\.{name}\b", example), example


def test_the_using_page_lists_every_public_function_with_its_defaults():
    table = (REPO / "docs" / "using.md").read_text().split("## Execution module `assist`", 1)[1].split("\n\n| init |", 1)[0]
    shown = dict(re.findall(r"`(\w+)\(([^)]*)\)`", table))
    assert sorted(shown) == sorted(PUBLIC)
    for name, arguments in shown.items():
        defaults = {param.name: param.default for param in inspect.signature(getattr(assist, name)).parameters.values()}
        for argument in filter(None, arguments.split(", ")):
            key, value = argument.split("=")
            assert defaults[key] == ast.literal_eval(value), (name, key)


def test_the_readmes_links_lead_to_files_of_the_repository():
    """On a forge the README is the front page; its links to the pages are relative paths
    (the docs build checks the pages' own links, and the README's up to its list)."""
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (REPO / "README.md").read_text())
    assert "docs/using.md" in links and "CHANGELOG.md" in links
    assert [link for link in links if "://" not in link and not (REPO / link).is_file()] == []


def test_the_salt_ssh_page_names_every_helper_for_salt_3006s_thin_archive():
    """Salt 3006's salt-ssh packs only the helpers thin_extra_mods names: one left out and
    the module does not load agentless."""
    named = re.search(r"^thin_extra_mods: (\S+)$", (REPO / "docs" / "agentless.md").read_text(), re.M).group(1)
    assert named.split(",") == sorted(path.stem for path in (REPO / "_utils").glob("assist_*.py"))
