"""Named points where the crash tests kill the process, off unless asked for.

A crash test needs a real process to die at an exact moment — e.g. right after
the portal accepted a batch and before we recorded it — to prove a rerun
creates no duplicate and loses nothing. Steps mark such moments with
`crashpoint("po:after_send")`. The process dies there (SIGKILL: no
handler, no cleanup, like a power cut) only when the environment variable
SAGECONNECT_CRASH_AT names that point; comma-separated names arm several.
Unset (always, in production) a crashpoint costs one environment lookup.
"""
from __future__ import annotations

import os
import signal

CRASH_AT_VARIABLE = "SAGECONNECT_CRASH_AT"


def armed(point: str) -> bool:
    names = os.environ.get(CRASH_AT_VARIABLE, "")
    return bool(names) and point in {name.strip() for name in names.split(",")}


def crashpoint(point: str) -> None:
    if armed(point):
        os.kill(os.getpid(), signal.SIGKILL)
