"""A real OpenSSH server on 127.0.0.1 for salt-ssh, owned by the test that starts it.

Everything it needs lives in one folder: its host key, a throwaway client key, the
authorized_keys file that admits that key, a known_hosts file that pins the host key
(so the client really checks it), its config, pid file and log; the server never uses
root's ~/.ssh (the ssh client makes an empty one on first login where there is none:
test_ssh.py removes it again). ``stop()`` ends the server and checks that nothing of it
is left.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.fakeagent import wait_until

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
# sshd refuses to start without its privilege separation folder, which Debian's
# service creates when it starts (nobody started it here). It is created if missing and
# left in place (empty, as the service leaves it): another sshd may be using it.
PRIVSEP_DIR = Path("/run/sshd")

CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {dir}/host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The folder is below /tmp, which is world-writable: sshd's ownership checks would
# refuse authorized_keys there.
StrictModes no
# salt-ssh copies Salt's thin tarball with scp, which speaks SFTP.
Subsystem sftp {sftp}
LogLevel VERBOSE
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path, comment):
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


class Sshd:
    """sshd -D on 127.0.0.1:port with the files in ``folder``."""

    def __init__(self, folder):
        missing = [name for name in (SSHD, SFTP_SERVER, "ssh", "ssh-keygen") if not shutil.which(name)]
        assert not missing, (
            f"OpenSSH is not installed ({', '.join(missing)} missing): "
            "run `sh tests/deps.sh ssh` as root (openssh-server, openssh-client)"
        )
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.host_key = keygen(self.dir / "host_ed25519_key", "assist-salt test host")
        self.client_key = keygen(self.dir / "client_ed25519_key", "assist-salt test client")
        (self.dir / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        host_pub = self.host_key.with_suffix(".pub").read_text().split()[:2]
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(host_pub)}\n")
        self.config.write_text(CONFIG.format(port=self.port, dir=self.dir, sftp=SFTP_SERVER))
        self.process = None

    def start(self):
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        check = subprocess.run([SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True)
        assert check.returncode == 0, f"sshd rejects {self.config}: {check.stderr}"
        with open(self.log, "wb") as log:
            # -D: stay in the foreground as our child; -e: log to stderr (the log file).
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        if not wait_until(self._answers, timeout=10, interval=0.1):
            self.stop()
            raise AssertionError(f"sshd did not answer on 127.0.0.1:{self.port}:\n{self.log.read_text()}")
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"sshd exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def pids(self):
        """sshd processes started from this config: the listener and any session."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                argv = Path("/proc", entry, "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(self.config).encode() in argv:
                found.append(int(entry))
        return found

    def stop(self):
        """SIGTERM the listener, wait for it; then no process of this server may be left."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.pids()
        assert not left, f"sshd processes left running after stop: {left}"
