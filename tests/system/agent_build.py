"""Build the vendor's Cloud Assistant agent from the source kept in
tests/system/aliyun-assist, once per machine: for Linux (AGENT, the system tier) and
for Windows (WINDOWS_AGENT, the windows tier, under Wine).

    binary = build_agent()          # the cached aliyun-service, release 2.2.3.578
    exe = build_agent(recipe=WINDOWS_AGENT)   # aliyun_assist_service.exe, GOOS=windows
    subprocess.run(offline.command([str(copy), "--version"]), ...)

Run a copy, never the cached file: the agent makes log/ beside itself and
hybrid/ beside its folder, even for --version.

The source is the vendor's release with every Go dependency in its vendor/
folder, so Debian's Go builds it with no module proxy and no network: the build
runs in a network namespace that holds only loopback (tests/system/offline.py).
The tarball is checked against SHA256SUMS before each use. The binary is cached
under ~/.cache/assist-salt/agent/ in a directory named after the release and a
key made of the tarball's hash, the recipe below and the Go toolchain's version:
change any of them and the next run builds again. A recipe may name patches kept
beside the tarball (each listed in SHA256SUMS and checked like it, applied with `patch`
after unpacking, part of the key): only the Windows build has one, the test-only
decision Wine gets wrong (wine-interactive-session.patch says why). Go's own build cache lives
beside it, so a rebuild after a recipe change takes seconds, not a minute. How
the recipe was found: real-agent-notes.md in the project's reference folder, and
tests/system/aliyun-assist/README.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.system import host, offline
from tests.system.cleanup import remove_dead_builds

SOURCES = Path(__file__).resolve().parent / "aliyun-assist"

# Bump when the steps of _build change in a way the recipe below does not show.
RECIPE_FORMAT = 1

# The variable `--version` prints. The vendor's workflow sets main.assistVer,
# which does not exist: without this flag the binary says 1.0.0.1.
VERSION_VARIABLE = "github.com/aliyun/aliyun_assist_client/agent/version.AssistVersion"

# What a build runs (the `agent` and `system` parts of tests/deps.sh install them).
BUILD_TOOLS = ("go", "unshare", "ip", "patch")


@dataclass(frozen=True)
class Recipe:
    release: str
    tarball: str
    package: str  # what `go build` builds, relative to the source's top
    program: str  # the file it writes
    env: tuple  # (name, value): offline, static, for the target system on amd64
    patches: tuple = ()  # files beside the tarball, applied in order (patch -p1)

    @property
    def directory(self) -> str:
        return self.tarball.removesuffix(".tar.xz")

    @property
    def ldflags(self) -> str:
        return "-X %s=%s" % (VERSION_VARIABLE, self.release)


AGENT = Recipe(
    release="2.2.3.578",
    tarball="aliyun_assist_client-2.2.3.578.tar.xz",
    # The top of the source is the client's main package. (The vendor's Makefile
    # is stale, and `go mod tidy` or `go mod vendor` would need the network.)
    package=".",
    program="aliyun-service",
    env=(
        ("GOFLAGS", "-mod=vendor"),
        ("GOPROXY", "off"),
        ("GOSUMDB", "off"),
        ("CGO_ENABLED", "0"),
        ("GOOS", "linux"),
        ("GOARCH", "amd64"),
    ),
)

# The same source for Windows, as the windows tier runs it under Wine: the vendor's
# AliyunService program, with one test-only patch (the patch file says why).
WINDOWS_AGENT = Recipe(
    release=AGENT.release,
    tarball=AGENT.tarball,
    package=".",
    program="aliyun_assist_service.exe",
    env=tuple((name, "windows" if name == "GOOS" else value) for name, value in AGENT.env),
    patches=("wine-interactive-session.patch",),
)


def cache_dir() -> Path:
    """Where builds are cached ($ASSIST_AGENT_CACHE overrides)."""
    env = os.environ.get("ASSIST_AGENT_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "assist-salt" / "agent"


def build_agent(cache: Path | None = None, sources: Path = SOURCES, recipe: Recipe = AGENT) -> Path:
    """The path of the cached agent binary, built first when it is missing.

    The build is made in a directory beside its cache entry and renamed into
    place, so a killed build never leaves a half-made entry; a lock keeps two
    builders from working at once."""
    tarball, source_hash = read_source(sources, recipe.tarball)
    patches = {name: read_source(sources, name) for name in recipe.patches}
    hashes = {recipe.tarball: source_hash, **{name: digest for name, (_, digest) in patches.items()}}
    cache = Path(cache or cache_dir())
    _check_build_tools()
    toolchain = toolchain_version()
    key = cache_key(recipe, hashes, toolchain)
    target = cache / ("%s-%s-%s" % (recipe.program.removesuffix(".exe"), recipe.release, key))
    if target.is_dir():
        return target / recipe.program
    cache.mkdir(parents=True, exist_ok=True)
    with host.file_lock(cache / ".build.lock"):
        if target.is_dir():  # built by another process meanwhile
            return target / recipe.program
        remove_dead_builds(cache)
        work = cache / (".build-%d" % os.getpid())
        # Go's build cache keys a package by its directory: unpacking at the same
        # path each time lets a rebuild reuse it, and gives the same binary.
        source = cache / "source"
        for scratch in (work, source):
            shutil.rmtree(scratch, ignore_errors=True)
        try:
            out = work / "out"
            _build(
                recipe,
                tarball,
                {name: data for name, (data, _) in patches.items()},
                source,
                out,
                work / "logs",
                gocache=cache / "gocache",
            )
            (out / "recipe.json").write_text(_describe(recipe, hashes, toolchain) + "\n")
            os.rename(out, target)
        finally:
            for scratch in (work, source):
                shutil.rmtree(scratch, ignore_errors=True)
    return target / recipe.program


def read_source(sources: Path, name: str) -> tuple[bytes, str]:
    """The agent's tarball or patch `name` in `sources` and its sha256, checked (host.checked_source)."""
    return host.checked_source(sources, name, "the agent's source")


def cache_key(recipe: Recipe, hashes: dict, toolchain: str) -> str:
    """hashes: {file name: sha256} of the tarball and the recipe's patches."""
    return hashlib.sha256(_describe(recipe, hashes, toolchain).encode()).hexdigest()[:12]


def toolchain_version() -> str:
    """`go version`, e.g. "go version go1.19.8 linux/amd64"."""
    done = subprocess.run(["go", "version"], capture_output=True, text=True, check=True, timeout=60, env=_clean_env())
    return done.stdout.strip()


def _describe(recipe: Recipe, hashes: dict, toolchain: str) -> str:
    """What a build is made of, as the cache key hashes it (and recipe.json keeps it)."""
    return json.dumps(
        {
            "format": RECIPE_FORMAT,
            "source": hashes,
            "recipe": repr(recipe),
            "ldflags": recipe.ldflags,
            "toolchain": toolchain,
        },
        sort_keys=True,
    )


def _check_build_tools() -> None:
    problems = ["command " + tool for tool in BUILD_TOOLS if shutil.which(tool, path=host.host_env()["PATH"]) is None]
    if os.geteuid() != 0:
        problems.append("root (the build runs in a network namespace of its own; euid is %d)" % os.geteuid())
    if problems:
        raise RuntimeError(
            "cannot build the agent: %s missing (make system installs what "
            "it needs: sh tests/deps.sh system agent)" % ", ".join(problems)
        )


def _clean_env() -> dict:
    """The host's environment without any Go setting of the user's."""
    env = {name: value for name, value in host.host_env().items() if not name.startswith(("GO", "CGO_"))}
    env["GOENV"] = "off"  # nor the `go env -w` settings kept in the home
    env["GOTOOLCHAIN"] = "local"  # a Go newer than 1.20 would try to fetch go.mod's release
    return env


def _go_env(recipe: Recipe, gocache: Path, gopath: Path, tmp: Path) -> dict:
    env = _clean_env()
    env.update(recipe.env)
    env["GOCACHE"] = str(gocache)
    env["GOPATH"] = str(gopath)  # nothing is fetched into it; keeps $HOME/go untouched
    env["TMPDIR"] = str(tmp)  # go's own work files: gone with the scratch, even after a kill
    return env


def _build(recipe: Recipe, tarball: bytes, patches: dict, scratch: Path, out: Path, logs: Path, gocache: Path) -> None:
    """Unpack the source under `scratch`, apply the patches (their bytes, checked) and
    build the program into out/, offline. patches: {file name: bytes}, in the recipe's order."""
    top = _unpack(tarball, scratch, recipe.directory)
    env = _go_env(recipe, gocache, scratch / "gopath", scratch / "tmp")
    for made in (out, logs, scratch / "tmp"):
        made.mkdir(parents=True)
    for name, data in patches.items():
        _patch(top, name, data, logs / f"{name}.log")
    argv = ["go", "build", "-ldflags", recipe.ldflags, "-o", str(out / recipe.program), recipe.package]
    host.build_step("the agent", offline.command(argv), top, logs / "go-build.log", env=env, timeout=1200)


def _patch(top: Path, name: str, data: bytes, log: Path) -> None:
    """Apply one patch to the unpacked source; one that does not apply cleanly stops the build."""
    proc = subprocess.run(
        ["patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch"],
        cwd=top,
        input=data,
        capture_output=True,
        timeout=60,
        env=_clean_env(),
    )
    log.write_bytes(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(
            "building the agent: %s does not apply to %s (patch exited %d):\n%s"
            % (name, top.name, proc.returncode, log.read_text(errors="replace")[-2000:])
        )


def _unpack(tarball: bytes, into: Path, directory: str) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        archive.extractall(into, filter="tar")
    return into / directory
