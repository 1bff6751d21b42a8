"""The runners ``assist.report``, ``assist.plan`` and ``assist.enforce``, on the master.

This file makes the folder the package ``saltext.assist.runners``, which an editable install
(``pip install -e .``) can only map as a regular package. Salt's loader skips it, as every
file whose name starts with ``_``."""
