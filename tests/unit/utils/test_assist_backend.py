"""What every backend shares (_utils/assist_backend.py): whether the agent is installed,
said the same way on every init system, and the Linux backends' files and processes,
here through the sysvinit backend on an image root made in tmp_path."""

from tests.unit.conftest import assist_backend
from tests.unit.recorder import Recorder, install_client, sysvinit_backend


def image(tmp_path):
    return sysvinit_backend({"root": str(tmp_path), "run_image_programs": True}, {"cmd.run_all": Recorder({})})


def test_a_client_process_left_running_with_nothing_of_the_agent_installed_is_half_an_agent(tmp_path):
    # An uninstall that did not stop the client: its process runs a program no longer there.
    backend = image(tmp_path)
    assert backend.installation(pids=[4242]) == assist_backend.Installation(
        installed=False,
        registered=False,
        incomplete="client process(es) [4242] run, but neither the client program nor the init script "
        "/etc/init.d/aliyun-service is installed",
    )
    assert backend.installation() == assist_backend.Installation(installed=False, registered=False)


def test_a_client_program_without_its_init_script_is_half_an_agent_named_with_its_path(tmp_path):
    install_client(tmp_path / "usr/local/share/aliyun-assist")
    found = image(tmp_path).installation()
    assert (found.installed, found.registered) == (False, False)
    assert found.incomplete == (
        "the client /usr/local/share/aliyun-assist/2.2.3.578/aliyun-service is there, but the init script "
        "/etc/init.d/aliyun-service is missing (assist:lookup:sysv_script)"
    )


def test_the_version_is_read_from_the_agents_version_file_without_a_backend(tmp_path):
    cfg = image(tmp_path).cfg
    assert assist_backend.LinuxBackend.read_version(cfg) is None
    (tmp_path / "usr/local/share/aliyun-assist").mkdir(parents=True)
    (tmp_path / "usr/local/share/aliyun-assist/version").write_text("2.2.3.578\n")
    assert assist_backend.LinuxBackend.read_version(cfg) == "2.2.3.578"


class Registered(assist_backend.Backend):
    """A backend whose service manager answers for the client (as Windows' does): no
    client program or process of its own to look for."""

    name, setting = "registered", "windows_service"

    def registration(self):
        return {"what": "the service", "text": "", "problem": None}


def test_a_service_manager_that_knows_the_service_is_an_agent_installed_whole():
    backend = Registered({"windows_service": "AliyunService"}, {}, {}, "test")
    assert (backend.client_programs(), backend.client_pids(), backend.has_watchdog) == ([], [], False)
    assert backend.installation() == assist_backend.Installation(installed=True, registered=True)
