"""The helpers loaded whole (_utils/assist_release.py): a release synced while a process
runs is what that process runs next, never a mix of two. Each test runs a new Python
process over a copy of _utils made in tmp_path, as a minion's process with Salt's
loader would import it, and rewrites files there as saltutil.sync_all does."""

import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO
from tests.unit.conftest import assist_release

VERSION = assist_release.VERSION


@pytest.fixture
def utils(tmp_path):
    """A copy of _utils, as saltutil.sync_all leaves it in the minion's extmods."""
    folder = tmp_path / "extmods" / "utils"
    shutil.copytree(REPO / "_utils", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def run(code, path, **names):
    """Run ``code`` in a new Python process with ``path`` on sys.path; what it prints as JSON."""
    prelude = f"import json, sys\nsys.path.insert(0, {str(path)!r})\n"
    for name, value in names.items():
        prelude += f"{name} = {value!r}\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def rewrite(path, extra):
    """A sync writing a file anew: new text, new size."""
    path.write_text(path.read_text() + extra)


def test_unchanged_helpers_are_imported_once(utils):
    same = run(
        """
        import assist_release
        first = assist_release.load(VERSION, "assist_init", "assist_settings")
        again = assist_release.load(VERSION, "assist_init", "assist_settings")
        print(json.dumps([a is b for a, b in zip(first, again)]))
        """,
        utils,
        VERSION=VERSION,
    )
    assert same == [True, True]


def test_a_helper_synced_anew_is_imported_again_and_every_other_helper_with_it(utils):
    found = run(
        """
        import assist_release
        init, = assist_release.load(VERSION, "assist_init")
        open(SETTINGS, "a").write("\\nRELEASE_TWO = 'two'\\n")
        init2, settings2 = assist_release.load(VERSION, "assist_init", "assist_settings")
        # The new assist_init imports the new assist_settings, not the one in memory before.
        print(json.dumps([init2 is not init, settings2.RELEASE_TWO, init2.settings is settings2]))
        """,
        utils,
        VERSION=VERSION,
        SETTINGS=str(utils / "assist_settings.py"),
    )
    assert found == [True, "two", True]


def test_helpers_an_earlier_release_imported_without_this_loading_are_imported_again(utils):
    # Release 0.2.0's module and grain imported their helpers plainly: nothing marks
    # which file they came from, so they are taken from the files again.
    found = run(
        """
        import assist_init, assist_settings
        import assist_release
        init, = assist_release.load(VERSION, "assist_init")
        print(json.dumps([init is not assist_init, sys.modules["assist_settings"] is not assist_settings]))
        """,
        utils,
        VERSION=VERSION,
    )
    assert found == [True, True]


def test_the_new_releases_own_loading_decides_when_this_file_changed_too(utils):
    # The module asks the copy of assist_release in memory (the old one); the new file
    # says release 9.9.9, and so does the new module asking for it.
    found = run(
        """
        import assist_release as old
        old.load(VERSION, "assist_init")
        text = open(RELEASE).read().replace(f'VERSION = "{VERSION}"', 'VERSION = "9.9.9"')
        open(RELEASE, "w").write(text + "\\n")
        init, = old.load("9.9.9", "assist_init")
        print(json.dumps([sys.modules["assist_release"].VERSION, init.settings.__name__ in sys.modules]))
        """,
        utils,
        VERSION=VERSION,
        RELEASE=str(utils / "assist_release.py"),
    )
    assert found == ["9.9.9", True]


def test_helpers_of_another_release_are_refused_in_words(utils):
    # Only _modules was synced (saltutil.sync_modules): the module is 9.9.9, the helpers not.
    said = run(
        """
        import assist_release
        try:
            assist_release.load("9.9.9", "assist_init")
        except ImportError as exc:
            print(json.dumps(str(exc)))
        """,
        utils,
    )
    assert said == (
        f"assist: this module is release 9.9.9 but the helpers in _utils are release {VERSION} (only part of a "
        "release was synced); run saltutil.sync_all, which syncs _modules and _utils together, then restart the "
        "minion if the module still refuses. Nothing was run."
    )


def test_threads_loading_beside_a_sync_all_get_one_release(utils):
    # multiprocessing: False runs jobs as threads of the minion's process.
    found = run(
        """
        import concurrent.futures
        import assist_release
        assist_release.load(VERSION, "assist_init")
        open(SETTINGS, "a").write("\\nRELEASE_TWO = 'two'\\n")
        def job(_):
            import assist_release  # as the loader module does, while another job may be loading
            init, settings = assist_release.load(VERSION, "assist_init", "assist_settings")
            return getattr(settings, "RELEASE_TWO", None), init.settings is settings
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            print(json.dumps(sorted(set(pool.map(job, range(32))))))
        """,
        utils,
        VERSION=VERSION,
        SETTINGS=str(utils / "assist_settings.py"),
    )
    assert found == [["two", True]]


def test_installed_with_pip_the_package_s_helpers_are_taken_again_the_same_way(tmp_path, utils):
    package = tmp_path / "site" / "saltext" / "assist"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    shutil.copytree(utils, package / "utils")
    found = run(
        """
        from saltext.assist.utils import assist_release
        init, = assist_release.load(VERSION, "assist_init")
        open(SETTINGS, "a").write("\\nRELEASE_TWO = 'two'\\n")
        init2, = sys.modules["saltext.assist.utils.assist_release"].load(VERSION, "assist_init")
        print(json.dumps([init2.__name__, init2.settings.RELEASE_TWO]))
        """,
        tmp_path / "site",
        VERSION=VERSION,
        SETTINGS=str(package / "utils" / "assist_settings.py"),
    )
    assert found == ["saltext.assist.utils.assist_init", "two"]


def test_every_loader_module_that_loads_helpers_is_of_this_release():
    loading = [
        path for folder in ("_modules", "_grains", "_states", "_runners", "_beacons") for path in (REPO / folder).glob("*.py")
    ]
    versions = {
        str(path.relative_to(REPO)): re.search(r'^__version__ = "([^"]+)"', path.read_text(), re.M)
        for path in loading
        if re.search(r"assist_release\.load\(\s*__version__", path.read_text())
    }
    assert set(versions) >= {"_modules/assist.py", "_grains/assist.py"}
    assert {path: found and found.group(1) for path, found in versions.items()} == dict.fromkeys(versions, VERSION)
    # The package's version is the helpers' (pyproject.toml reads it), and the changelog names it.
    assert 'version = {attr = "saltext.assist.utils.assist_release.VERSION"}' in (REPO / "pyproject.toml").read_text()
    assert f"\n## {VERSION}\n" in (REPO / "CHANGELOG.md").read_text()
