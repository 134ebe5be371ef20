"""host_lock: one firewall change at a time per host, a bounded wait, a clear timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.biostar.hardening.plugins.module_utils.host_lock import (
    LOCK_NAME,
    HostLockError,
    HostLockTimeout,
    host_lock,
    lock_path,
)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_first_directory_that_exists(tmp_path):
    assert lock_path([str(tmp_path / "missing"), str(tmp_path)]) == str(tmp_path / LOCK_NAME)


def test_holder_writes_its_pid_and_releases_on_exit(tmp_path):
    path = str(tmp_path / "l")
    with host_lock(5, path) as held:
        assert held == path
        with open(path) as handle:
            assert handle.read() == str(os.getpid())
    with open(path) as handle:
        assert handle.read() == ""
    # Released: a second take succeeds at once.
    clock = FakeClock()
    with host_lock(0, path, clock=clock, sleep=clock.sleep):
        pass
    assert clock.sleeps == []


def test_second_run_waits_then_times_out_naming_file_holder_and_option(tmp_path):
    path = str(tmp_path / "l")
    clock = FakeClock()
    with host_lock(5, path), pytest.raises(HostLockTimeout) as caught:  # noqa: SIM117 (the inner take must fail)
        with host_lock(3, path, clock=clock, sleep=clock.sleep):
            pytest.fail("took a lock that is held")
    message = str(caught.value)
    assert path in message
    assert "held by pid %d" % os.getpid() in message
    assert "lock_timeout=3" in message
    assert "Nothing was changed" in message
    # It waited the whole bounded time in small steps, no longer.
    assert 3 <= clock.now < 3.2
    assert max(clock.sleeps) <= 0.1


def test_waiter_gets_the_lock_when_the_holder_exits(tmp_path):
    path = str(tmp_path / "l")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,os,time; fd=os.open(%r, os.O_RDWR|os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(0.5)" % path],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    began = time.monotonic()
    with host_lock(10, path):
        waited = time.monotonic() - began
    holder.wait(timeout=10)
    assert 0.2 < waited < 5


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    path = str(tmp_path / "l")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,os,time; fd=os.open(%r, os.O_RDWR|os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)" % path],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=10)
    with host_lock(2, path):
        pass


def test_negative_timeout_and_unwritable_place_are_refused_clearly(tmp_path):
    with pytest.raises(
        HostLockError, match=r"lock_timeout: invalid value -1; valid values: 0 or more seconds"
    ), host_lock(-1, str(tmp_path / "l")):
        pass
    with pytest.raises(HostLockError, match=r"could not open the host lock .*missing/l"), host_lock(
        1, str(tmp_path / "missing" / "l")
    ):
        pass
