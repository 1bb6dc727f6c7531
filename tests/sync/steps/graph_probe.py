"""A step that writes when it started and ended to an event log the test reads,
and can wait until another step has started (proof that the two run side by side)."""
import threading
import time

from sync.engine.context import StepContext

EVENTS: list[tuple[str, str]] = []
STARTED: dict[str, threading.Event] = {}
WAITS: dict[str, str] = {}  # step → the step it waits to see started
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        EVENTS.clear()
        STARTED.clear()
        WAITS.clear()


def started(step: str) -> threading.Event:
    with _lock:
        return STARTED.setdefault(step, threading.Event())


def run(ctx: StepContext):
    with _lock:
        EVENTS.append(("start", ctx.step))
    started(ctx.step).set()
    other = WAITS.get(ctx.step)
    if other:
        seen = started(other).wait(10)
        ctx.log(f"{other} {'seen running' if seen else 'never started'}")
    time.sleep(0.02)
    with _lock:
        EVENTS.append(("end", ctx.step))
    ctx.result.created += 1
    return ctx.result
