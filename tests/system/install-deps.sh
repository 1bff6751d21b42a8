#!/bin/sh
# Install what tests/system/containers.py needs: debootstrap, systemd-nspawn
# (package systemd-container), nsenter (util-linux) and zstd.
# Idempotent: does nothing (and touches no network) when all are present.
set -eu

missing=""
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v zstd >/dev/null 2>&1 || missing="$missing zstd"
command -v nsenter >/dev/null 2>&1 || missing="$missing util-linux"
need_nspawn=0
command -v systemd-nspawn >/dev/null 2>&1 || need_nspawn=1

if [ -z "$missing" ] && [ "$need_nspawn" -eq 0 ]; then
    echo "install-deps: all tools present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: must run as root to install:$missing systemd-container" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq

pkgs="$missing"
if [ "$need_nspawn" -eq 1 ]; then
    # Pin systemd-container to the installed systemd's version so apt does not
    # upgrade systemd along with it; fall back to unpinned when the mirror no
    # longer carries that version.
    sysver="$(dpkg-query -W -f='${Version}' systemd 2>/dev/null || true)"
    if [ -n "$sysver" ] && apt-cache madison systemd-container \
            | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$sysver"; then
        pkgs="$pkgs systemd-container=$sysver"
    else
        pkgs="$pkgs systemd-container"
    fi
fi

# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $pkgs
echo "install-deps: installed$pkgs"
