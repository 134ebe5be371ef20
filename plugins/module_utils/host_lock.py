# Copyright: (c) 2026, biostar.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One firewall change at a time on a host.

Two runs that reconcile the same host at once (two pipelines, two playbooks) would each
read the ruleset, plan from what they read and write: both can add the jump into the
owned chain, and the second write is planned from a state that no longer exists. The
module therefore holds an exclusive ``flock`` on one file per host for the whole
read-plan-apply-persist sequence, whatever the owner and the backend, since they all
change the same kernel ruleset. The lock goes with the process: a run that is killed
releases it, so a stale lock file never blocks the next run.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence

LOCK_NAME = "biostar-hardening-firewall.lock"
# The first directory that exists is used: /run/lock is the FHS place for lock files.
LOCK_DIRS = ("/run/lock", "/var/lock", "/tmp")
DEFAULT_TIMEOUT = 60
POLL_SECONDS = 0.1


class HostLockError(Exception):
    """The host lock could not be taken."""


class HostLockTimeout(HostLockError):
    """Another run held the host lock for longer than the wait allowed."""


def lock_path(dirs: Optional[Sequence[str]] = None) -> str:
    for directory in dirs or LOCK_DIRS:
        if os.path.isdir(directory):
            return os.path.join(directory, LOCK_NAME)
    raise OSError(errno.ENOENT, "none of %s exists" % ", ".join(dirs or LOCK_DIRS))


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 64).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return " (held by pid %s)" % text if text.isdigit() else ""


@contextmanager
def host_lock(
    timeout: float,
    path: Optional[str] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Hold the host's firewall lock; wait at most ``timeout`` seconds for it.

    Raises HostLockTimeout, naming the lock file, the holder's pid when known and the
    option that sets the wait, when the lock stays taken.
    """
    if timeout < 0:
        raise HostLockError("lock_timeout: invalid value %r; valid values: 0 or more seconds" % timeout)
    try:
        path = path or lock_path()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise HostLockError(
            "could not open the host lock %s: %s; nothing was changed" % (path or LOCK_NAME, exc)
        ) from None
    try:
        deadline = clock() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if clock() >= deadline:
                raise HostLockTimeout(
                    "another firewall change is running on this host: the lock %s stayed taken%s for "
                    "lock_timeout=%s seconds. Nothing was changed. Run again when the other run has "
                    "finished, or raise lock_timeout." % (path, _holder(fd), timeout)
                )
            sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode("ascii"))
        try:
            yield path
        finally:
            # Empty again, so a pid in the file always names the current holder.
            os.ftruncate(fd, 0)
    finally:
        # Closing the descriptor releases the lock.
        os.close(fd)
