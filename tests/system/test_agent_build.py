"""The vendor's agent, built from the source kept in tests/system/aliyun-assist.

These tests use none of the tier's container fixtures: no container boots for
them. The first run builds the agent (30-40 s on two cores); later runs take
it from the cache (~/.cache/assist-salt/agent) in about a second. Needs root,
as the whole tier does: the build and the agent run in network namespaces of
their own.
"""

import dataclasses
import hashlib
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.system import agent_build, host, offline


@pytest.fixture(scope="module")
def agent():
    """The cached aliyun-service, built first when the cache has none."""
    return agent_build.build_agent()


def test_the_agent_built_from_source_prints_its_release_when_run_offline(agent, tmp_path):
    # The agent makes log/ beside itself and hybrid/ beside its folder, as it does
    # under /usr/local/share/aliyun-assist: run a copy laid out the same way, so
    # the cache stays as it was built.
    binary = tmp_path / agent_build.AGENT.release / "aliyun-service"
    binary.parent.mkdir()
    shutil.copy2(agent, binary)
    env = dict(host.host_env(), TMPDIR=str(tmp_path))  # where its lock file would go
    done = subprocess.run(
        offline.command([str(binary), "--version"]), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done
    assert done.stdout.strip() == "2.2.3.578"


def test_a_tarball_that_differs_from_its_sha256_is_refused_before_anything_is_built(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy2(agent_build.SOURCES / "SHA256SUMS", sources)
    tarball = bytearray((agent_build.SOURCES / agent_build.AGENT.tarball).read_bytes())
    tarball[len(tarball) // 2] ^= 0x01
    (sources / agent_build.AGENT.tarball).write_bytes(tarball)
    cache = tmp_path / "cache"

    with pytest.raises(RuntimeError) as refused:
        agent_build.build_agent(cache=cache, sources=sources)

    message = str(refused.value)
    assert str(sources / agent_build.AGENT.tarball) in message
    assert "but SHA256SUMS says" in message and "refusing to build" in message
    assert not cache.exists(), "the build started: %s" % sorted(cache.rglob("*"))


def test_changing_the_recipe_changes_the_cache_key_so_the_next_run_builds_again():
    _, source_hash = agent_build.read_source(agent_build.SOURCES, agent_build.AGENT.tarball)
    hashes = {agent_build.AGENT.tarball: source_hash}
    toolchain = "go version go1.19.8 linux/amd64"
    key = agent_build.cache_key(agent_build.AGENT, hashes, toolchain)
    assert key == agent_build.cache_key(agent_build.AGENT, hashes, toolchain)
    other_release = dataclasses.replace(agent_build.AGENT, release="2.2.3.579")
    assert agent_build.cache_key(other_release, hashes, toolchain) != key
    other_env = dataclasses.replace(agent_build.AGENT, env=agent_build.AGENT.env + (("GOAMD64", "v3"),))
    assert agent_build.cache_key(other_env, hashes, toolchain) != key
    assert agent_build.cache_key(agent_build.AGENT, {agent_build.AGENT.tarball: "0" * 64}, toolchain) != key
    assert agent_build.cache_key(agent_build.AGENT, hashes, "go version go1.21.0 linux/amd64") != key
    # A patch is part of the build: another patch, or the same one changed, builds again.
    patched = dataclasses.replace(agent_build.AGENT, patches=("a.patch",))
    assert agent_build.cache_key(patched, dict(hashes, **{"a.patch": "1" * 64}), toolchain) != key
    assert agent_build.cache_key(patched, dict(hashes, **{"a.patch": "1" * 64}), toolchain) != agent_build.cache_key(
        patched, dict(hashes, **{"a.patch": "2" * 64}), toolchain
    )


def test_the_windows_build_is_the_same_source_for_windows_with_its_one_patch():
    windows, linux = agent_build.WINDOWS_AGENT, agent_build.AGENT
    assert (windows.release, windows.tarball) == (linux.release, linux.tarball)
    assert dict(windows.env) == dict(linux.env, GOOS="windows")
    assert windows.patches == ("wine-interactive-session.patch",) and linux.patches == ()
    # The patch is checked like the tarball, and touches one file of the source.
    text, _ = agent_build.read_source(agent_build.SOURCES, windows.patches[0])
    assert [line for line in text.decode().splitlines() if line.startswith("+++ ")] == [
        "+++ b/thirdparty/service/service_windows.go"
    ]


def test_a_patch_that_differs_from_its_sha256_is_refused_before_anything_is_built(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(agent_build.SOURCES, sources)
    patch = sources / agent_build.WINDOWS_AGENT.patches[0]
    patch.write_text(patch.read_text().replace("len(os.Args) > 1", "len(os.Args) > 2"))
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match=r"wine-interactive-session.patch has sha256 \w+, but SHA256SUMS says"):
        agent_build.build_agent(cache=cache, sources=sources, recipe=agent_build.WINDOWS_AGENT)
    assert not cache.exists()


def test_the_offline_wrapper_refuses_to_start_a_program_where_more_than_loopback_exists(tmp_path):
    marker = tmp_path / "ran"
    # The wrapper alone (no unshare of its own in front), where more than lo exists.
    done = subprocess.run(
        [*offline.WITH_AN_INTERFACE, sys.executable, offline.__file__, "--", "touch", str(marker)],
        capture_output=True,
        text=True,
        timeout=60,
        env=host.host_env(),
    )
    assert done.returncode == offline.REFUSED, done
    assert "refusing to run touch" in done.stderr
    assert not marker.exists()


def test_the_build_goes_through_the_loopback_check_and_publishes_nothing_when_it_fails(tmp_path, monkeypatch):
    # The wrapper where more than lo exists: it must refuse to start go, and the build
    # must fail without a cache entry.
    monkeypatch.setattr(
        offline, "command", lambda argv: [*offline.WITH_AN_INTERFACE, sys.executable, offline.__file__, "--", *argv]
    )
    sources = tmp_path / "sources"  # an empty source tree: go never gets to read it
    sources.mkdir()
    tarball = sources / agent_build.AGENT.tarball
    with tarfile.open(tarball, "w:xz") as archive:
        archive.add(sources, arcname=agent_build.AGENT.directory, recursive=False)
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    (sources / "SHA256SUMS").write_text("%s  %s\n" % (digest, tarball.name))
    cache = tmp_path / "cache"

    with pytest.raises(RuntimeError, match="refusing to run go: this network namespace has"):
        agent_build.build_agent(cache=cache, sources=sources)

    assert [path.name for path in cache.iterdir()] == [".build.lock"]
