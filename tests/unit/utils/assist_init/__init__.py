"""Unit tests of _utils/assist_init.py, a folder rather than one file: the module holds
every init system's backend, and their tests together would be over a thousand lines.
One file per part of it: test_detection.py (detect, resolve, BACKENDS), test_systemd.py,
test_upstart.py, test_sysvinit.py, test_windows.py (a backend each, also where a test
reaches it through a verb of the execution module), test_file_change.py (FileChange),
test_processes.py (program_pids). What the execution module decides itself, whatever the
backend, is tested in tests/unit/modules/test_assist.py."""
