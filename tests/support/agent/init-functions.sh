# shellcheck shell=sh
# Helpers both init scripts of the fake agent use (tests/support/agent/*.init):
# fakeagent.install() writes this file, less this first paragraph, in place of their
# ". ./init-functions.sh" line.  Builtins where possible: the watchdog runs "status"
# every restart_interval.

# Alive means /proc/PID exists and is not a zombie: PID 1 may reap orphans
# late here, and "kill -0" succeeds on a zombie.
is_alive() {
    case $1 in ''|*[!0-9]*) return 1 ;; esac
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    state=${stat##*") "}
    case ${state%% *} in Z|X|x) return 1 ;; esac
    return 0
}

# runs PID PROGRAM: PID is alive and PROGRAM is one of its arguments.
runs() {
    is_alive "$1" || return 1
    { cmd=$(tr '\0' ' ' < "/proc/$1/cmdline"); } 2>/dev/null || return 1
    case " $cmd " in *" $2 "*) return 0 ;; esac
    return 1
}

# Sets $pidval from the pid file $PIDFILE (empty if none).
# shellcheck disable=SC2034  # $pidval is the result, read by the caller
read_pidfile() {
    pidval=
    { read -r pidval < "$PIDFILE"; } 2>/dev/null
    return 0
}
