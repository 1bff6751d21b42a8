"""Sphinx's configuration for the docs site: `make docs` builds it into build/docs.

The pages are Markdown (MyST), so that they read the same on a forge; the reference is
generated from the modules' docstrings, imported from the source tree as the package
``saltext.assist`` (the mapping of pyproject.toml), with no install."""

import importlib.util
import pathlib
import sys

try:
    import tomllib
except ImportError:  # Python 3.10: Sphinx brings tomli
    import tomli as tomllib

REPO = pathlib.Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def import_from_tree(name, folder):
    """Import the package ``name`` from its folder in the tree, as the installed package
    would be: ``saltext.assist.modules`` is ``_modules/``."""
    spec = importlib.util.spec_from_file_location(name, REPO / folder / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)


sys.path.insert(0, str(REPO / "src"))  # the namespace package saltext
importlib.import_module("saltext")
for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
    import_from_tree(package, folder)

project = "assist-salt"
release = version = importlib.import_module("saltext.assist.utils.assist_release").VERSION  # as pyproject.toml reads it
author = "assist-salt's authors"
copyright = "assist-salt's authors"

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_heading_anchors = 3  # links to a page's sections: configuration.md#the-root-setting-...
exclude_patterns = []

# The reference: each module's public functions, under the names Salt gives them.
autodoc_default_options = {"members": True, "member-order": "bysource"}
add_module_names = False

html_theme = "furo"
html_title = f"assist-salt {release}"
