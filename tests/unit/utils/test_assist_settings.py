"""Settings: every bad value is refused before anything runs, naming the key."""

import os
import re

import pytest
import yaml
from salt.exceptions import CommandExecutionError

from tests.conftest import REPO
from tests.unit.conftest import assist, assist_settings, configure_loader_modules, minion_settings  # noqa: F401  (the loader mock)


def refused(settings, match):
    with pytest.raises(CommandExecutionError, match=match):
        minion_settings()


def test_defaults_are_the_vendors_paths(settings):
    cfg = minion_settings()
    assert cfg["daemon_path"] == "/usr/local/share/assist-daemon/assist_daemon"
    assert cfg["daemon_dir"] == "/usr/local/share/assist-daemon"
    assert cfg["systemd_unit"] == "auto"  # found: aliyun.service or aliyun-service.service
    assert cfg["sysv_script"] == "/etc/init.d/aliyun-service"


def test_the_defaults_pass_every_check_given_values_get():
    # _settings checks only given values, trusting the defaults: this holds them to it.
    for key, value in assist_settings.DEFAULTS.items():
        assert assist_settings.checked(key, value) == value
    assist_settings.check_daemon_dir(dict(assist_settings.DEFAULTS))


@pytest.mark.parametrize(
    "value, why",
    [
        ("/", "system directory"),
        ("/usr", "system directory"),
        ("/usr/local/share", "system directory"),
        ("/opt", "system directory"),
        ("usr/local/share/assist-daemon", "must be absolute"),
        ("/usr/local/share/../../etc", r"must not contain '\.\.'"),
        ("/usr/local/share/aliyun-assist", "overlaps /usr/local/share/aliyun-assist"),
        ("/usr/local/share/aliyun-assist/plugin", "overlaps /usr/local/share/aliyun-assist"),
        ("/etc/sysconfig", "overlaps /etc/sysconfig/aliyun"),
        ("", "absolute path as a string"),
        (["/tmp/x"], "absolute path as a string"),
    ],
)
def test_dangerous_daemon_dirs_are_refused(settings, value, why):
    settings["daemon_dir"] = value
    refused(settings, rf"assist:lookup:daemon_dir: .* is refused: .*{why}")


def test_the_binary_must_lie_in_the_daemon_dir(settings):
    settings.update(daemon_dir="/opt/watchdog", daemon_path="/usr/bin/assist_daemon")
    refused(settings, "assist:lookup:daemon_path: .* directly in assist:lookup:daemon_dir")


@pytest.mark.parametrize(
    "key, value",
    [
        ("systemd_unit", "aliyun.service; rm -rf /"),
        ("systemd_unit", "-rf"),
        ("upstart_job", "--help"),
        ("upstart_job", "job$(reboot)"),
        ("windows_service", "Aliyun Service"),
        ("windows_service", ""),
        ("systemd_unit", 42),
    ],
)
def test_service_names_with_shell_or_option_characters_are_refused(settings, key, value):
    settings[key] = value
    refused(settings, rf"assist:lookup:{key}: .* is refused: a service name")


def test_unknown_init_system_lists_the_choices(settings):
    settings["init_system"] = "openrc"
    refused(settings, "assist:lookup:init_system: 'openrc' is refused: use auto or one of systemd")


@pytest.mark.parametrize("value", [0, -1, "5", True, None])
def test_timeouts_must_be_positive_numbers(settings, value):
    settings["timeout"] = value
    refused(settings, "assist:lookup:timeout: .* positive number")


def test_unknown_keys_are_named_with_the_known_ones(settings):
    settings["daemon_dri"] = "/x"
    refused(settings, "unknown setting.*daemon_dri.*known settings are client_dir, daemon_dir")


def test_a_root_that_does_not_exist_is_refused(settings, tmp_path):
    settings["root"] = str(tmp_path / "missing")
    refused(settings, "assist:lookup:root: .* no such directory")


def test_lookup_must_be_a_mapping(configure_loader_modules):
    assist.__opts__["assist"]["lookup"] = ["root", "/"]
    with pytest.raises(CommandExecutionError, match="assist:lookup must be a mapping of settings, not list"):
        minion_settings()


MASTER = {"master": {"assist": {"lookup": {"timeout": 10, "root": "/m"}}}}
LOOKUP_CASES = {
    "nowhere": ({}, {}, {}),
    "pillar only": ({}, {}, {"assist": {"lookup": {"timeout": 30}}}),
    "each store a key, the minion config winning": (
        {"assist": {"lookup": {"timeout": 5, "init_system": "sysvinit"}}, "id": "m1"},
        {"assist": {"lookup": {"timeout": 7, "verify_seconds": 3}}, "os": "Debian"},
        {"assist": {"lookup": {"timeout": 9, "verify_seconds": 4, "root": "/p"}, "client": "dead"}, **MASTER},
    ),
    "the pillar's master mapping under the pillar": ({}, {}, {"assist": {"lookup": {"timeout": 30}}, **MASTER}),
    "a value that is no mapping is replaced by a later mapping": (
        {"assist": {"lookup": {"timeout": 5}}},
        {},
        {"assist": {"lookup": "oops"}},
    ),
    "a value that is no mapping, last, is what is given": ({"assist": "oops"}, {"assist": {"lookup": {"timeout": 5}}}, {}),
    "no lookup under assist": ({}, {"assist": {"other": 1}}, {"assist": {"lookup": {"timeout": 5}}}),
}


@pytest.mark.parametrize("opts, grains, pillar", LOOKUP_CASES.values(), ids=LOOKUP_CASES)
def test_lookup_is_what_config_get_merges(monkeypatch, opts, grains, pillar):
    """The settings are read as Salt's own config.get("assist:lookup", merge="recurse")
    reads them, without merging the whole of each store."""
    import salt.modules.config as config

    for name, value in (("__opts__", opts), ("__grains__", grains), ("__pillar__", pillar)):
        monkeypatch.setattr(config, name, value, raising=False)
    expected = config.get("assist:lookup", {}, merge="recurse")
    assert assist_settings.lookup(opts, grains, pillar) == expected


def test_pillar_example_shows_every_setting_with_its_default():
    example = yaml.safe_load((REPO / "pillar.example").read_text())
    assert example["assist"]["lookup"] == assist_settings.DEFAULTS


def test_the_configuration_page_lists_every_setting_with_its_default():
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", (REPO / "docs" / "configuration.md").read_text(), re.M)
    shown = {key: yaml.safe_load(default) for key, default in rows if key in assist_settings.SETTINGS or key.endswith("_seconds")}
    assert shown == assist_settings.DEFAULTS


def test_links_resolve_inside_the_root(tmp_path):
    # A merged-/usr image: /sbin -> usr/sbin (relative), usr/sbin/init -> ../lib/systemd/systemd
    # (relative with ..), and an absolute link that would point at this host's own files.
    (tmp_path / "usr" / "sbin").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "systemd").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "systemd" / "systemd").write_bytes(b"/lib/systemd")
    os.symlink("usr/sbin", tmp_path / "sbin")
    os.symlink("../lib/systemd/systemd", tmp_path / "usr" / "sbin" / "init")
    os.symlink("/etc/hostname", tmp_path / "usr" / "sbin" / "escape")
    root = str(tmp_path)
    assert assist_settings.resolve(root, "/sbin/init") == f"{root}/usr/lib/systemd/systemd"
    assert assist_settings.resolve(root, "/sbin/./escape") == f"{root}/etc/hostname"
    assert assist_settings.resolve(root, "/usr/sbin/../../etc") == f"{root}/etc"
    assert assist_settings.resolve("/", "/sbin/init") == "/sbin/init"  # the host: the kernel follows
    # A path is taken from the root either way, never from the minion's working directory
    # (the grain reads settings unchecked).
    assert assist_settings.resolve(root, "sbin/init") == f"{root}/usr/lib/systemd/systemd"
    assert assist_settings.resolve("/", "sbin/init") == "/sbin/init"
