"""`salt '*' sys.doc assist` is the user's manual: every public function has an example."""

import inspect
import re

import pytest

from tests.unit.conftest import assist

PUBLIC = [
    name
    for name, func in inspect.getmembers(assist, inspect.isfunction)
    if not name.startswith("_") and func.__module__ == assist.__name__
]


def test_the_public_functions_are_the_documented_verbs():
    assert sorted(PUBLIC) == sorted(
        ["init_system", "status", "is_running", "stop", "start", "restart", "enable",
         "disable", "daemon_status", "remove_daemon", "version", "policy", "audit"]
    )


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_function_has_a_cli_example_calling_itself(name):
    doc = inspect.getdoc(getattr(assist, name))
    assert "CLI Example:" in doc
    example = doc.split("CLI Example:", 1)[1]
    assert re.search(rf"salt '\*' assist\.{name}\b", example), example
