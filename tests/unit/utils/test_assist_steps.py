"""The steps the verbs share (_utils/assist_steps.py), over a backend whose commands are
recorded (tests/unit/recorder.py)."""

from unittest import mock

import pytest
from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist_steps, assist_sysvinit
from tests.unit.recorder import Recorder, sysvinit_backend


def test_sysvinit_a_tool_change_that_did_not_take_is_an_error_naming_the_command(tmp_path):
    # update-rc.d exits 0, yet an S link is still there: the change is not reported as made.
    (tmp_path / "etc" / "rc2.d").mkdir(parents=True)
    (tmp_path / "etc" / "rc2.d" / "S50aliyun-service").symlink_to("../init.d/aliyun-service")
    recorder = Recorder({})
    backend = sysvinit_backend({"root": str(tmp_path)}, {"cmd.run_all": recorder})
    with mock.patch.object(assist_sysvinit.Sysvinit, "_boot_tool", return_value="update-rc.d"):
        with pytest.raises(
            CommandExecutionError, match="^turning start at boot off did not take: `update-rc.d aliyun-service disable` succeeded"
        ):
            assist_steps.boot_step(backend, False, test=False)
    assert recorder.commands() == ["update-rc.d aliyun-service disable"]
