"""Test-only patches for two gaps of Wine 8.0, loaded by the harness before Salt runs
under Wine. Neither exists on Windows, and the product's own code is not patched: each
patch stands in for one Windows API that Wine lacks, and everything else Salt asks of
Windows reaches Wine's real service control manager and registry.

1. Delayed auto start. Wine's services.exe answers ``QueryServiceConfig2`` and
   ``ChangeServiceConfig2`` at level ``SERVICE_CONFIG_DELAYED_AUTO_START_INFO`` (3) with
   ERROR_INVALID_LEVEL. Salt's ``service.info`` asks for it on every call (so
   ``service.enabled``, ``enable``, ``disable`` and ``start`` do). Windows keeps the flag
   as the service's ``DelayedAutostart`` registry value; this patch reads and writes that
   value, only when Wine refused the level.
2. WMI grains. Salt's Windows core grains ask WMI (the ``wmi`` package, absent here; and
   Wine's WMI lacks ``SWbemObject.Path_``) for the platform's data and the network
   interfaces. This patch gives the platform data from Python's ``platform`` module and
   the one interface the test's network namespace has, loopback; every other grain
   (the minion config's, the project's own ``assist_agent``) is Salt's own.
"""

import platform
import sys
import winreg

import pywintypes
import salt.loader
import salt.utils.network
import win32service

DELAYED = win32service.SERVICE_CONFIG_DELAYED_AUTO_START_INFO
ERROR_INVALID_LEVEL = 124
SERVICES_KEY = r"SYSTEM\CurrentControlSet\Services"

# --------------------------------------------------------------- 1. delayed auto start

_service_names = {}  # an open service handle (as int) -> the name it was opened with
_open_service = win32service.OpenService
_close_service_handle = win32service.CloseServiceHandle
_query_config2 = win32service.QueryServiceConfig2
_change_config2 = win32service.ChangeServiceConfig2


def open_service(scm, name, access):
    handle = _open_service(scm, name, access)
    _service_names[int(handle)] = name
    return handle


def close_service_handle(handle):
    _service_names.pop(int(handle), None)
    return _close_service_handle(handle)


def _refused_by_wine(exc, handle, level):
    return level == DELAYED and exc.winerror == ERROR_INVALID_LEVEL and int(handle) in _service_names


def query_config2(handle, level):
    try:
        return _query_config2(handle, level)
    except pywintypes.error as exc:
        if not _refused_by_wine(exc, handle, level):
            raise
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, rf"{SERVICES_KEY}\{_service_names[int(handle)]}") as key:
            return bool(winreg.QueryValueEx(key, "DelayedAutostart")[0])
    except FileNotFoundError:  # never set: not delayed
        return False


def change_config2(handle, level, value):
    try:
        return _change_config2(handle, level, value)
    except pywintypes.error as exc:
        if not _refused_by_wine(exc, handle, level):
            raise
    path = rf"{SERVICES_KEY}\{_service_names[int(handle)]}"
    with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path, 0, winreg.KEY_SET_VALUE) as key:
        winreg.SetValueEx(key, "DelayedAutostart", 0, winreg.REG_DWORD, int(bool(value)))
    return None


win32service.OpenService = open_service
win32service.CloseServiceHandle = close_service_handle
win32service.QueryServiceConfig2 = query_config2
win32service.ChangeServiceConfig2 = change_config2

# --------------------------------------------------------------------- 2. WMI grains


def loopback_only():
    """salt.utils.network.win_interfaces' answer in a namespace that has only loopback."""
    return {
        "Loopback Pseudo-Interface 1": {
            "hwaddr": "00:00:00:00:00:00",
            "up": True,
            "inet": [{"address": "127.0.0.1", "netmask": "255.0.0.0", "broadcast": "127.255.255.255", "label": "Loopback"}],
            "inet6": [],
        }
    }


def platform_data():
    """What salt.grains.core._windows_platform_data reads from WMI, from Python instead."""
    version = platform.version()
    return {
        "kernelrelease": version,
        "kernelversion": version,
        "osversion": version,
        "osrelease": "2019Server",
        "osservicepack": None,
        "osmanufacturer": "Wine",
        "osfullname": "Microsoft Windows Server 2019 Datacenter (Wine)",
        "manufacturer": "Wine",
        "productname": "Wine",
        "biosversion": None,
        "serialnumber": None,
        "timezone": None,
        "uuid": None,
        "windowsdomain": "WORKGROUP",
        "windowsdomaintype": "Workgroup",
        "motherboard": {"productname": None, "serialnumber": None},
        "virtual": "physical",
    }


_grain_funcs = salt.loader.grain_funcs


def grain_funcs(*args, **kwargs):
    """Salt's grain loader, with the core module's WMI reader replaced. The loader imports
    salt/grains/core.py under a name of its own, so the patch goes into that copy."""
    funcs = _grain_funcs(*args, **kwargs)
    sys.modules[funcs["core.os_data"].__module__]._windows_platform_data = platform_data
    return funcs


salt.utils.network.win_interfaces = loopback_only
salt.loader.grain_funcs = grain_funcs
