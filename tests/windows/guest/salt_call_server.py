"""salt-call, many times in one Windows Python: a salt-call under Wine costs 4-6 s, most
of it starting Python and importing Salt. Each request is one line of JSON on stdin, the
arguments of one salt-call; the answer is one line on stdout, after MARK: the exit code
and what salt-call printed on stdout and stderr. Each call runs Salt's own command line
(salt.scripts.salt_call: option parsing, a new minion, loader and pillar); only the
imported Python modules are shared.

Test-only: wine_gaps is imported (two gaps of Wine; see there), and salt-call's
logging options, which Salt freezes once per process, are thawed between calls.
"""

import contextlib
import io
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import salt._logging.impl  # noqa: E402
import salt.scripts  # noqa: E402
import wine_gaps  # noqa: E402,F401  (test-only patches; they take effect when Salt loads grains and services)

MARK = "@@salt-call@@ "


def salt_call(args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        sys.argv = ["salt-call", *args]
        try:
            salt.scripts.salt_call()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001  what the command line would print, and exit 1
            traceback.print_exc()
            code = 1
    with contextlib.suppress(AttributeError):  # thaw: the next call sets its own options
        del salt._logging.impl.set_logging_options_dict.__options_dict__
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main():
    print(MARK + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        print(MARK + json.dumps(salt_call(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
