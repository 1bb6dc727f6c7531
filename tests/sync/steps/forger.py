"""A step fed outside values that try to forge log lines: a UUID and an error text with CR/LF and ESC."""
from sync.engine.context import StepContext

HOSTILE_UUID = "6D7434A6-E3F2-47AD-9E4C-08849946AFA0\r\n2026-01-01 00:00:00 INFO sync.steps: all good"


def run(ctx: StepContext):
    ctx.log(f"CFDI {HOSTILE_UUID}: stored")
    ctx.log("portal said: \x1b[2Jcleared\u2028next")
    ctx.lines.append(f"raw line from {HOSTILE_UUID}")  # written around ctx.log, as the pipeline itself does
    return ctx.result
