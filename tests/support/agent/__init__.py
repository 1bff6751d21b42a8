"""The fake Cloud Assistant agent's programs, units and jobs, as the files they become.

``tests/support/fakeagent.py`` (``install()``) copies each file here into a sandbox or
container root, with its mode, and fills in its ``@NAME@`` placeholders:

* in Python (``.py``) and sh (``.init``) a placeholder sits in a string literal,
  ``"@ROOT@"`` or ``'@CLIENT@'``, so the file parses and lints as it is; the whole
  literal, quotes included, is replaced by the value written as a literal of that
  language (``repr``, ``shlex.quote``), so any value is safe;
* anywhere else (the ``#!@PYTHON@`` line, units, jobs) ``@NAME@`` is replaced by the
  value as it is.

The init scripts' line ``. ./init-functions.sh`` is replaced by that file's text, so an
installed init script stands alone, as the vendor's does.

``assist_daemon.py`` is also imported: its ``/proc`` helpers (``alive``, ``cmdline``)
are the ones ``fakeagent.py`` uses on the host.
"""
