"""The watchdog's removal (_utils/assist_watchdog.py) in an image root made in tmp_path:
the vendor's two verbs, then its folder; a removal cut short finished by the next. The
watchdog's --stop and --delete are recorded, not run (the vendor's binary cannot run
here; tests/functional removes the fake agent's stand-in, which restarts the client)."""

import pytest
from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist_settings, assist_watchdog
from tests.unit.recorder import Recorder, install_watchdog

SHARE = ("usr", "local", "share")  # the folder that holds the watchdog's, as the vendor installs it


def settings_of(root, **given):
    return assist_settings.load({"root": str(root), "run_image_programs": True, "verify_seconds": 0.2, **given})


@pytest.fixture
def share(tmp_path):
    """/usr/local/share of an image root, with the watchdog installed in it."""
    install_watchdog(tmp_path.joinpath(*SHARE, "assist-daemon"))
    return tmp_path.joinpath(*SHARE)


def test_removal_runs_the_vendors_two_verbs_then_deletes_the_folder(share, tmp_path):
    cfg = settings_of(tmp_path)
    assert assist_watchdog.status(cfg) == {
        "installed": True,
        "running": False,
        "pids": [],
        "path": "/usr/local/share/assist-daemon/assist_daemon",
    }
    recorder = Recorder({})
    assist_watchdog.remove(cfg, {"cmd.run_all": recorder})
    assert recorder.commands() == ["assist_daemon --stop", "assist_daemon --delete"]
    assert list(share.iterdir()) == []  # neither the folder nor a remainder of it
    assert assist_watchdog.present(cfg) is False


def test_a_removal_cut_short_after_the_rename_is_finished_by_the_next_without_a_command(tmp_path):
    # Killed between the rename and the delete: only the remainder is left, the binary in it.
    install_watchdog(tmp_path.joinpath(*SHARE, ".assist-daemon.assist-salt-removing"))
    cfg = settings_of(tmp_path)
    assert assist_watchdog.status(cfg)["installed"] is False
    assert assist_watchdog.present(cfg) is True  # so stop and remove_daemon still act on it
    recorder = Recorder({})
    assist_watchdog.remove(cfg, {"cmd.run_all": recorder})
    assert recorder.calls == []
    assert list(tmp_path.joinpath(*SHARE).iterdir()) == []


def test_a_remainder_that_is_a_link_goes_and_what_it_points_to_stays(tmp_path):
    kept = tmp_path / "srv" / "data"
    kept.mkdir(parents=True)
    (kept / "file").write_text("kept")
    share = tmp_path.joinpath(*SHARE)
    share.mkdir(parents=True)
    (share / ".assist-daemon.assist-salt-removing").symlink_to(kept)
    assist_watchdog.remove(settings_of(tmp_path), {"cmd.run_all": Recorder({})})
    assert list(share.iterdir()) == []
    assert (kept / "file").read_text() == "kept"


def test_a_failed_stop_names_the_command_and_leaves_the_folder_whole(share, tmp_path):
    recorder = Recorder({(): (1, "cannot reach the service manager")})
    with pytest.raises(
        CommandExecutionError,
        match=r"^stopping the watchdog \(assist_daemon --stop\) failed: `\S+/assist_daemon --stop` exited 1: "
        "cannot reach the service manager$",
    ):
        assist_watchdog.remove(settings_of(tmp_path), {"cmd.run_all": recorder})
    assert recorder.commands() == ["assist_daemon --stop"]  # no --delete after a failed --stop
    assert sorted(p.name for p in (share / "assist-daemon").iterdir()) == ["assist_daemon"]


def test_an_images_watchdog_is_not_run_unless_the_settings_allow_it(share, tmp_path):
    # An image's watchdog would act on this host's own agent.
    recorder = Recorder({})
    with pytest.raises(
        CommandExecutionError,
        match=r"^removing the watchdog would run /usr/local/share/assist-daemon/assist_daemon from assist:lookup:root "
        r".*set assist:lookup:run_image_programs to true",
    ):
        assist_watchdog.remove(settings_of(tmp_path, run_image_programs=False), {"cmd.run_all": recorder})
    assert recorder.calls == []
    assert (share / "assist-daemon" / "assist_daemon").is_file()
