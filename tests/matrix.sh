#!/bin/sh
# Run the unit, functional and integration tiers on each virtualenv given, side by side:
# their salt daemons mostly wait on each other, not on the CPU, so two releases take
# little longer than one. Each release's output is shown whole when it ends, and the
# script fails if any release fails.
#
#   sh tests/matrix.sh ".venv-3006 .venv-3007" "tests/unit tests/functional tests/integration" \
#       ".venv-3007=tests/integration/test_syndic.py all=tests/integration/test_gitfs.py"
#
# The third argument, optional, names tests a leg leaves out (VENV=TEST, or all=TEST for
# every leg; the Makefile's MATRIX_LEAVE_OUT gives each one's reason); each leg says
# what it leaves out and pytest counts them as deselected.
set -u
venvs=$1
tiers=$2
already_run=${3:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=""
for venv in $venvs; do
    name=$(basename "$venv")
    (
        py=$venv/bin/python
        echo "== salt $($py -c 'import salt.version; print(salt.version.__version__)') ($venv)"
        left_out=""
        for entry in $already_run; do
            if [ "${entry%%=*}" = "$venv" ] || [ "${entry%%=*}" = all ]; then
                left_out="$left_out --deselect=${entry#*=}"
                echo "== $venv leaves out ${entry#*=} (the Makefile's MATRIX_LEAVE_OUT says why)"
            fi
        done
        # Its own basetemp: the two pytest sessions never share or clean each other's.
        # shellcheck disable=SC2086  # the tiers and options are words
        $py -m pytest -p no:cacheprovider --basetemp="$out/tmp-$name" $left_out $tiers
    ) >"$out/$name.log" 2>&1 &
    pids="$pids $!:$name"
done
status=0
for entry in $pids; do
    pid=${entry%%:*}
    name=${entry#*:}
    if wait "$pid"; then result=passed; else result=FAILED; status=1; fi
    cat "$out/$name.log"
    echo "== $name: $result"
done
exit $status
