"""The unit tier mirrors the product: the tests of _<kind>/<module>.py are in
tests/unit/<kind>/test_<module>.py. This file and test_docs.py (the docs, not a module)
are the tier's own."""

from tests.conftest import EXTENSION_FOLDERS, REPO

UNIT = REPO / "tests" / "unit"
THE_TIERS_OWN = {UNIT / "test_docs.py", UNIT / "test_layout.py"}


def product_modules():
    return sorted(path for folder in EXTENSION_FOLDERS for path in (REPO / folder).glob("*.py") if path.name != "__init__.py")


def mirror(module):
    """Where the unit tests of a product module go."""
    return UNIT / module.parent.name.removeprefix("_") / f"test_{module.stem}.py"


def test_every_product_module_has_its_unit_tests_where_its_path_says():
    missing = [
        f"{module.relative_to(REPO)} has no unit tests: write them in {file.relative_to(REPO)}"
        for module in product_modules()
        for file in [mirror(module)]
        if not file.is_file()
    ]
    assert missing == [], "\n".join(missing)


def test_every_unit_test_file_is_in_the_place_of_the_module_it_tests():
    places = {mirror(module) for module in product_modules()}
    stray = [
        f"{path.relative_to(REPO)} mirrors no product module: move its tests to the file of the module they "
        "exercise, tests/unit/<kind>/test_<module>.py for _<kind>/<module>.py"
        for path in sorted(UNIT.rglob("test_*.py"))
        if path not in THE_TIERS_OWN and path not in places
    ]
    assert stray == [], "\n".join(stray)


def test_the_execution_module_holds_the_verbs_and_stays_short():
    """Its rules and shared steps live in _utils: a reader sees the verbs at a glance."""
    lines = len((REPO / "_modules" / "assist.py").read_text().splitlines())
    assert lines <= 550, f"_modules/assist.py has {lines} lines; move what is not a verb to a helper in _utils/"
