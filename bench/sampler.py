"""The memory of a process tree while something runs: the sum of the proportional set
size (PSS) over the tree's processes, sampled in a thread every 50 ms. PSS shares each
page among the processes that map it, so the pages a forked salt-master's workers share
are counted once, not once per worker (a sum of RSS would count them a dozen times)."""

import threading

import psutil

INTERVAL = 0.05


def tree_pss_mb(pid):
    """Memory of pid and all its descendants, in MB (processes that end meanwhile are
    left out)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


class TreePeak:
    """with TreePeak(pid) as peak: ...; then peak.before and peak.peak, in MB."""

    def __init__(self, pid):
        self.pid = pid
        self.before = self.peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._done.wait(INTERVAL):
            self.peak = max(self.peak, tree_pss_mb(self.pid))

    def __enter__(self):
        self.before = self.peak = tree_pss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, tree_pss_mb(self.pid))

    @property
    def added(self):
        return self.peak - self.before
