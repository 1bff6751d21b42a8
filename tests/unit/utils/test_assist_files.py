"""Start at boot as files (FileChange): changed whole or not at all, the mode and owner
of a file it rewrites kept."""

import os

import pytest
from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist_files


def test_a_file_change_refused_half_way_puts_back_what_it_renamed(tmp_path):
    # The second rename fails (its folder is gone): the first is undone, the staged link removed.
    cfg = {"root": "/"}
    (tmp_path / "a").write_text("a")
    change = assist_files.FileChange(cfg, "turning start at boot off")
    change.rename(str(tmp_path / "a"), str(tmp_path / "b"))
    change.symlink("target", str(tmp_path / "c"))
    change.rename(str(tmp_path / "a2"), str(tmp_path / "gone" / "x"))
    with pytest.raises(
        CommandExecutionError, match=r"^turning start at boot off failed: cannot rename .*/a2 to .*/gone/x: No such file"
    ):
        change.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_a_file_change_whose_first_phase_fails_changes_nothing(tmp_path):
    # A file stands where the new link's folder belongs: refused before any rename.
    cfg = {"root": "/"}
    (tmp_path / "S50x").write_text("")
    (tmp_path / "rc3.d").write_text("not a folder")
    change = assist_files.FileChange(cfg, "turning start at boot on")
    change.rename(str(tmp_path / "S50x"), str(tmp_path / "K50x"))
    change.symlink("target", str(tmp_path / "rc2.d" / "S50x"))
    with pytest.raises(
        CommandExecutionError, match=r"cannot make the folder .*/rc3.d: File exists; something else is in the way"
    ):
        change.symlink("target", str(tmp_path / "rc3.d" / "S50x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S50x", "rc3.d"]


@pytest.mark.root  # gives the file to another owner
def test_a_file_change_keeps_the_mode_and_owner_of_the_file_it_rewrites(tmp_path):
    # As salt.utils.atomicfile.atomic_open does: a job file an operator gave to another
    # owner, or made private, stays so after start at boot is turned on or off.
    job = tmp_path / "aliyun-service.override"
    job.write_text("manual\n")
    os.chmod(job, 0o640)
    os.chown(job, 4242, 4343)
    change = assist_files.FileChange({"root": "/"}, "turning start at boot on")
    change.write(str(job), "")
    change.commit()
    written = os.stat(job)
    assert (job.read_text(), written.st_mode & 0o7777, written.st_uid, written.st_gid) == ("", 0o640, 4242, 4343)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aliyun-service.override"]
