"""A step during which the process is told to stop (SIGTERM), as systemd or a task scheduler would."""
import os
import signal
import time

from sync.engine.context import StepContext


def run(ctx: StepContext):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the signal interrupts this
    ctx.result.created += 1
    return ctx.result
