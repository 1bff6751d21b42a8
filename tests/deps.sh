#!/bin/sh
# What a machine needs, by part of the project, installed from Debian's packages:
#
#   sh tests/deps.sh build unit system ssh upstart agent wine redis bench
#
# Each part names commands (or files) and the package that brings each. Nothing is
# installed when everything is present. As root, what is missing is installed in one
# apt-get call (package lists fetched first when the machine has none). Without root,
# nothing is installed: one message names the missing packages and the command that
# installs them, and the exit status is 1, so `make` stops before any test runs.
set -eu

# part: "test package" pairs; a test is a command name, or a path (starting with /).
needs() {
    case "$1" in
        build)   # Salt and timelib compile from source when pip installs them
            echo "gcc gcc"
            echo "$(python_header) python3-dev"
            echo "make make" ;;
        unit)    # Debian's real /sbin/init binaries, fetched with apt-get download;
                 # the fake agent's init scripts are checked with shellcheck
            echo "shellcheck shellcheck"
            echo "dpkg-deb dpkg"
            echo "apt-lists apt" ;;
        system)  # init systems as PID 1 in containers
            echo "debootstrap debootstrap"
            echo "systemd-nspawn systemd-container"
            echo "nsenter util-linux"
            echo "unshare util-linux"
            echo "zstd zstd"
            echo "pgrep procps" ;;
        ssh)     # salt-ssh against a real sshd on 127.0.0.1; the target's Python is
                 # the system's (test_ssh.py's roster sets its PATH)
            echo "/usr/bin/python3 python3"
            echo "/usr/sbin/sshd openssh-server"
            echo "ssh openssh-client"
            echo "ssh-keygen openssh-client" ;;
        upstart) # UpStart and libnih built from the sources kept in tests/system/upstart;
                 # their run-time libraries fetched with apt-get download
            echo "apt-lists apt"
            echo "patch patch"
            echo "autoreconf autoconf"
            echo "automake automake"
            echo "libtoolize libtool"
            echo "autopoint autopoint"
            echo "msgfmt gettext"
            echo "pkg-config pkg-config"
            echo "/usr/include/dbus-1.0/dbus/dbus.h libdbus-1-dev"
            echo "/usr/include/expat.h libexpat1-dev"
            echo "/usr/include/json-c/json.h libjson-c-dev"
            echo "/usr/include/libudev.h libudev-dev" ;;
        agent)   # the vendor's agent built from the source kept in tests/system/aliyun-assist
                 # (Debian's Go; the source's vendor/ folder holds every dependency; patch
                 # for the Windows build's one test-only patch), and
                 # run only where `ip -o link` shows nothing but loopback
            echo "go golang-go"
            echo "patch patch"
            echo "ip iproute2" ;;
        wine)    # the windows tier: Wine 8.0 (64-bit only) runs a Windows CPython, Salt's
                 # win_service and the vendor's Windows agent (built with Debian's Go from
                 # the same source, its one test-only patch applied) under Wine's service
                 # control manager, in a network namespace that holds only loopback
            echo "go golang-go"
            echo "patch patch"
            echo "wine wine"
            echo "/usr/lib/wine/wine64 wine64"
            echo "unshare util-linux"
            echo "nsenter util-linux"
            echo "ip iproute2" ;;
        redis)   # the masters' shared cache backend (master option cache: redis): each test
                 # and the benchmark start their own server, on a unix socket
            echo "redis-server redis-server" ;;
        bench)   # the vendor's own detection command, the benchmark's baseline
            echo "strings binutils" ;;
        *)
            echo "tests/deps.sh: unknown part '$1'; parts are build unit system ssh upstart agent wine redis bench" >&2
            exit 2 ;;
    esac
}

python_header() {
    python3 -c 'import os, sysconfig; print(os.path.join(sysconfig.get_paths()["include"], "Python.h"))'
}

have() {
    case "$1" in
        apt-lists) ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 ;;
        /*) [ -e "$1" ] ;;
        *) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] ;;
    esac
}

missing=""
lists_missing=0
for part in "$@"; do
    pairs=$(needs "$part")
    while read -r test package; do
        [ -n "$test" ] || continue
        have "$test" && continue
        if [ "$test" = apt-lists ]; then lists_missing=1; continue; fi
        case " $missing " in *" $package "*) ;; *) missing="$missing $package" ;; esac
    done <<EOF
$pairs
EOF
done

[ -z "$missing" ] && [ "$lists_missing" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if [ -n "$missing" ]; then
        echo "missing Debian packages:$missing" >&2
        echo "install them with: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    else
        echo "apt has no package lists (needed to fetch Debian's /sbin/init binaries)" >&2
        echo "fetch them with: sudo apt-get update" >&2
    fi
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ -n "$missing" ] || exit 0
packages=""
for package in $missing; do
    # systemd-container at the installed systemd's version, so apt leaves systemd be;
    # any version when the mirror no longer has that one.
    if [ "$package" = systemd-container ]; then
        version=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null || true)
        if [ -n "$version" ] && apt-cache madison systemd-container | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$version"; then
            package="systemd-container=$version"
        fi
    fi
    packages="$packages $package"
done
echo "tests/deps.sh: installing$packages"
# shellcheck disable=SC2086  # one word per package
apt-get install -y -qq --no-install-recommends $packages >/dev/null
