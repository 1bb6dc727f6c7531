"""Child processes that do not outlive their parent.

`serve` starts gunicorn and django-q2's cluster as children; both fork
children of their own (gunicorn's workers; the cluster's sentinel, which forks
the workers, the monitor and the pusher). When `serve` is killed outright
(kill -9, the OOM killer) nothing of it may run on under init — an orphaned
cluster would go on running cycles with old code beside the next `serve`'s.

Linux's parent-death signal does it: `prctl(PR_SET_PDEATHSIG, sig)` makes the
kernel send `sig` to a process when its parent dies. It is set for `serve`'s
children before they exec (`die_with_parent`), and, because a fork clears
it, again in every process they fork (`follow_parent_from_environment`, run
at Django start-up when serve's environment variable says so). Elsewhere than
Linux these do nothing, and `serve`'s own stop sequence is what remains.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from typing import Callable

import psutil

# Set by `serve` in its children's environment: the signal (a number) every
# process below it gets when its parent dies.
DIE_WITH_PARENT_VARIABLE = "SAGECONNECT_DIE_WITH_PARENT"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>

_libc = None
_parent_at_fork: int | None = None


def set_parent_death_signal(signum: int) -> bool:
    """Ask the kernel to send `signum` to this process when its parent dies; False where that cannot be done."""
    return _prctl(PR_SET_PDEATHSIG, signum)


def become_subreaper() -> bool:
    """Make the orphans of this process's descendants its own children (not init's), so it can stop them."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def stop_children(seconds: float) -> None:
    """SIGTERM every process below this one, SIGKILL what still runs after `seconds`, and reap them all."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, still = psutil.wait_procs(children, timeout=seconds)
    for child in still:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(still, timeout=5)


def _prctl(option: int, value: int) -> bool:
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc.prctl(option, value, 0, 0, 0) == 0


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: the child gets `signum` when this process dies."""
    parent = os.getpid()

    def in_child() -> None:
        set_parent_death_signal(signum)
        if os.getppid() != parent:
            os._exit(1)  # the parent died before the signal was armed: nobody would send it now

    return in_child


def follow_parent_from_environment() -> None:
    """In a process `serve` started (or one they forked): die with the parent, and make every fork do the same."""
    value = os.environ.get(DIE_WITH_PARENT_VARIABLE, "")
    if not value.isdigit() or not sys.platform.startswith("linux"):
        return
    signum = int(value)
    os.register_at_fork(before=_remember_parent, after_in_child=lambda: _follow(signum))


def _remember_parent() -> None:
    global _parent_at_fork
    _parent_at_fork = os.getpid()


def _follow(signum: int) -> None:
    set_parent_death_signal(signum)
    if _parent_at_fork is not None and os.getppid() != _parent_at_fork:
        os._exit(1)


def kill_group(process) -> None:
    """SIGKILL what is left of a child started with process_group=0: it and everything it forked."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
