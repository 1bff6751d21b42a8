"""Build UpStart from the sources kept in tests/system/upstart, once per machine.

    build = build_upstart(["1.13.2"])["1.13.2"]    # a cached directory
    build / "sbin" / "init"         # UpStart's programs, ready to copy into a root
    build / "debs"                  # the Debian libraries they need at run time

Debian has not shipped UpStart for years. Both releases link libnih 1.0.4
statically, so a root needs only a few of Debian's libraries beside them. The
sources are checked against SHA256SUMS before each build. A build is cached
under ~/.cache/assist-salt/upstart/ in a directory named after the release and
a key made of the sources' hashes and the recipe below: change either and the
next run builds again. How the recipe was found: upstart-notes.md in the
project's reference folder, and tests/system/upstart/README.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.system import host
from tests.system.cleanup import remove_dead_builds

SOURCES = Path(__file__).resolve().parent / "upstart"

# Bump when the steps of _build_libnih or _build_release change in a way the
# recipes below do not show.
RECIPE_FORMAT = 1

# Modern gcc defaults to -fno-common; both projects define the same globals in
# several files (nih-dbus-tool fails to link without -fcommon).
CFLAGS = "CFLAGS=-g -O2 -fcommon -Wno-error"

# The programs a root gets; start, stop, status, restart and reload are links
# to initctl, halt and poweroff links to reboot.
PROGRAMS = (
    "init",
    "initctl",
    "telinit",
    "shutdown",
    "reboot",
    "halt",
    "poweroff",
    "runlevel",
    "start",
    "stop",
    "status",
    "restart",
    "reload",
)

# Commands a build runs and headers it compiles against (the `upstart` part of
# tests/deps.sh installs them).
BUILD_TOOLS = ("autoreconf", "automake", "libtoolize", "autopoint", "msgfmt", "pkg-config", "patch", "make", "gcc", "apt-get")
BUILD_HEADERS = (
    "/usr/include/dbus-1.0/dbus/dbus.h",
    "/usr/include/expat.h",
    "/usr/include/json-c/json.h",
    "/usr/include/libudev.h",
)


@dataclass(frozen=True)
class Recipe:
    tarball: str
    configure: tuple
    patches: tuple = ()
    autoreconf: bool = False
    runtime_packages: tuple = ()

    @property
    def directory(self) -> str:
        return self.tarball.removesuffix(".tar.gz")


LIBNIH = Recipe(
    tarball="libnih-1.0.4.tar.gz",
    # The tarball holds no configure script.
    autoreconf=True,
    configure=("--disable-shared", "--enable-static", "--disable-nls", "CFLAGS=-g -O2 -fcommon"),
)

RELEASES = {
    # Ubuntu 14.04's line. Its shipped init/Makefile.in is stale, hence
    # autoreconf; the bridges (udev, socket, dconf...) are not needed to boot.
    "1.13.2": Recipe(
        tarball="upstart-1.13.2.tar.gz",
        patches=("upstart-sysmacros.patch",),
        autoreconf=True,
        configure=(
            "--prefix=/usr",
            "--exec-prefix=/",
            "--sysconfdir=/etc",
            "--localstatedir=/var",
            "--libexecdir=/lib/upstart",
            "--disable-nls",
            "--disable-shared",
            "--enable-static",
            "--disable-udev-bridge",
            "--disable-socket-bridge",
            "--disable-local-bridge",
            "--disable-dconf-bridge",
            "--disable-cgroups",
            "--disable-abi-check",
            CFLAGS,
        ),
        runtime_packages=("libdbus-1-3", "libjson-c5"),
    ),
    # RHEL/CentOS 6's init: its shipped configure works as it is (it wants
    # libudev's headers even though init does not link libudev).
    "0.6.5": Recipe(
        tarball="upstart-0.6.5.tar.gz",
        configure=(
            "--prefix=/usr",
            "--exec-prefix=/",
            "--sysconfdir=/etc",
            "--localstatedir=/var",
            "--disable-nls",
            "--disable-shared",
            "--enable-static",
            CFLAGS,
        ),
        runtime_packages=("libdbus-1-3",),
    ),
}


def cache_dir() -> Path:
    """Where builds are cached ($ASSIST_UPSTART_CACHE overrides)."""
    env = os.environ.get("ASSIST_UPSTART_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "assist-salt" / "upstart"


def build_upstart(releases, cache: Path | None = None) -> dict:
    """{release: cached build} for the given UpStart releases, building the missing ones.

    libnih is built once for all of them. Each build is made in a directory
    beside its cache entry and renamed into place, so a killed build never
    leaves a half-made entry; a lock keeps two builders from working at once.
    """
    cache = Path(cache or cache_dir())
    targets = {}
    for release in releases:
        recipe = RELEASES[release]
        hashes = check_sources([LIBNIH.tarball, recipe.tarball, *recipe.patches])
        targets[release] = cache / ("upstart-%s-%s" % (release, _key(recipe, hashes)))
    if all(t.is_dir() for t in targets.values()):
        return targets
    cache.mkdir(parents=True, exist_ok=True)
    with host.file_lock(cache / ".build.lock"):
        missing = [r for r, t in targets.items() if not t.is_dir()]  # another process?
        if not missing:
            return targets
        remove_dead_builds(cache)
        _check_build_tools()
        work = cache / (".build-%d" % os.getpid())
        shutil.rmtree(work, ignore_errors=True)
        try:
            nih = _build_libnih(work)
            for release in missing:
                recipe = RELEASES[release]
                out = work / ("out-" + release)
                _build_release(recipe, nih, work, out)
                _download_debs(recipe.runtime_packages, out / "debs", work / "logs")
                os.rename(out, targets[release])
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return targets


def check_sources(names) -> dict:
    """{file name: sha256} of the named source files, each checked against
    SHA256SUMS; raises RuntimeError naming the first file that is missing or differs."""
    return {name: host.checked_source(SOURCES, name, "UpStart source")[1] for name in names}


def _key(recipe: Recipe, hashes: dict) -> str:
    described = json.dumps([RECIPE_FORMAT, hashes, repr(LIBNIH), repr(recipe)], sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()[:12]


def _check_build_tools() -> None:
    env = host.host_env()
    missing = ["command " + tool for tool in BUILD_TOOLS if shutil.which(tool, path=env["PATH"]) is None]
    missing += ["header " + header for header in BUILD_HEADERS if not os.path.exists(header)]
    if missing:
        raise RuntimeError(
            "cannot build UpStart: %s missing (make system installs what it needs: sh tests/deps.sh upstart)" % ", ".join(missing)
        )


def _build_libnih(work: Path) -> Path:
    """libnih as a static library and nih-dbus-tool, installed under work/nih."""
    prefix = work / "nih"
    source = _unpack(LIBNIH, work)
    _configure_make(LIBNIH, source, work / "logs", ["--prefix=%s" % prefix], env=host.host_env())
    host.build_step("UpStart", ["make", "install"], source, work / "logs" / "libnih-install.log")
    return prefix


def _build_release(recipe: Recipe, nih: Path, work: Path, out: Path) -> None:
    """Configure, build and install one release; keep its programs in out/sbin."""
    source = _unpack(recipe, work)
    logs = work / "logs"
    for patch in recipe.patches:
        host.build_step("UpStart", ["patch", "-p1", "-i", str(SOURCES / patch)], source, logs / ("patch-" + patch + ".log"))
    env = host.host_env()
    env["PKG_CONFIG_PATH"] = str(nih / "lib" / "pkgconfig")
    env["PATH"] = "%s:%s" % (nih / "bin", env["PATH"])  # nih-dbus-tool
    _configure_make(recipe, source, logs, [], env=env)
    stage = work / ("stage-" + recipe.directory)
    host.build_step(
        "UpStart", ["make", "install", "DESTDIR=%s" % stage], source, logs / (recipe.directory + "-install.log"), env=env
    )
    sbin = out / "sbin"
    sbin.mkdir(parents=True)
    for name in PROGRAMS:
        shutil.copy2(stage / "sbin" / name, sbin / name, follow_symlinks=False)
    if b"upstart" not in (sbin / "init").read_bytes():
        raise RuntimeError("the UpStart build's sbin/init does not mention upstart")


def _unpack(recipe: Recipe, work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    with tarfile.open(SOURCES / recipe.tarball) as archive:
        archive.extractall(work, filter="tar")
    return work / recipe.directory


def _configure_make(recipe: Recipe, source: Path, logs: Path, extra, env) -> None:
    name = recipe.directory
    if recipe.autoreconf:
        host.build_step("UpStart", ["autoreconf", "-fi"], source, logs / (name + "-autoreconf.log"), env=env)
    host.build_step("UpStart", ["./configure", *extra, *recipe.configure], source, logs / (name + "-configure.log"), env=env)
    host.build_step(
        "UpStart", ["make", "-j%d" % (os.cpu_count() or 1)], source, logs / (name + "-make.log"), env=env, timeout=1200
    )


def _download_debs(packages, dest: Path, logs: Path) -> None:
    """Debian's packages of the run-time libraries, at the versions this machine's apt
    lists name (the roots come from the same suite)."""
    dest.mkdir(parents=True)
    host.build_step("UpStart", ["apt-get", "download", *packages], dest, logs / "apt-get-download.log")
