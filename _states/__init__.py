"""The state module ``assist``: ``daemon_absent``, ``running``, ``dead``.

This file makes the folder the package ``saltext.assist.states``, which an editable install
(``pip install -e .``) can only map as a regular package. Salt's loader skips it, as every
file whose name starts with ``_``."""
