"""A real Windows service named AliyunService ("Aliyun Assist Service"), standing in for
the Cloud Assistant client: pywin32's pythonservice.exe runs this class under the
service control manager. It reports RUNNING, waits, and stops when the manager says
so; each start and stop is one line in aliyun_service.log beside this file (time,
process id, event), so a test can tell a restart (a new process) from nothing.

    python aliyun_service.py --startup auto install     # register it, auto start
"""

import os
import time

import win32event
import win32service
import win32serviceutil

LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "aliyun_service.log")


def log(event):
    with open(LOG, "a", encoding="utf-8") as handle:
        handle.write(f"{time.time():.3f} {os.getpid()} {event}\n")


class AliyunService(win32serviceutil.ServiceFramework):
    _svc_name_ = "AliyunService"
    _svc_display_name_ = "Aliyun Assist Service"
    _svc_description_ = "A stand-in for Alibaba Cloud's Cloud Assistant client (assist-salt's windows tier)"

    def __init__(self, args):
        super().__init__(args)
        self.stopping = win32event.CreateEvent(None, True, False, None)

    def SvcStop(self):
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
        win32event.SetEvent(self.stopping)

    def SvcDoRun(self):
        log("running")
        win32event.WaitForSingleObject(self.stopping, win32event.INFINITE)
        log("stopped")


if __name__ == "__main__":
    win32serviceutil.HandleCommandLine(AliyunService)
