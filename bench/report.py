"""The benchmark's figures: a table on the terminal and a JSON file under var/bench/."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from bench.measure import Phase
from bench.minimum import floor_seconds


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def portal_calls(phase: Phase, portal_tenant: str) -> dict[str, int]:
    http = phase.http
    return {"reads": http.get(f"portal:{portal_tenant}:reads", 0),
            "writes": http.get(f"portal:{portal_tenant}:writes", 0),
            "downloads": http.get("portal:*:downloads", 0), "failed": http.get(f"portal:{portal_tenant}:failed", 0)}


def sage_calls(phase: Phase, company: str) -> dict[str, int]:
    http = phase.http
    return {"reads": http.get(f"sage:{company}:reads", 0), "writes": http.get(f"sage:{company}:writes", 0)}


def total(phases: list[Phase]) -> Phase:
    whole = Phase(name="total")
    for phase in phases:
        whole.seconds += phase.seconds
        for target, source in ((whole.sql, phase.sql), (whole.http, phase.http), (whole.minimum, phase.minimum)):
            for key, value in source.items():
                target[key] = target.get(key, 0) + value
    return whole


def table(title: str, phases: list[Phase], portal_tenant: str, company: str,
          floor: tuple[int, int] | None = None, wall: float | None = None) -> list[str]:
    """`floor` (latency ms, calls allowed at once): add the network's floor per step and our distance to it.
    `wall`: the whole's seconds when the phases ran side by side (their sum would count the overlap twice)."""
    head = f"  {'step':<22}{'s':>8}{'portal r/w/dl':>18}{'minimum r/w/dl':>18}{'sage api r/w':>14}{'SQL':>8}"
    lines = [title, head + (f"{'floor s':>9}{'over floor':>12}" if floor else "") + "  counts"]
    whole = total(phases)
    if wall is not None:
        whole.name, whole.seconds = "total (wall clock)", wall
    for phase in phases + [whole]:
        calls, least, sage = portal_calls(phase, portal_tenant), phase.minimum, sage_calls(phase, company)
        counts = " ".join(f"{k}={v}" for k, v in phase.counts.items() if v)
        extra = ""
        if floor:
            least_s = floor_seconds(least, *floor)
            extra = f"{least_s:>9.2f}{phase.seconds - least_s:>+11.2f}s"
        lines.append(
            f"  {phase.name:<22}{phase.seconds:>8.2f}"
            f"{calls['reads']:>8}/{calls['writes']}/{calls['downloads']:<5}"
            f"{least.get('reads', 0):>8}/{least.get('writes', 0)}/{least.get('downloads', 0):<5}"
            f"{sage['reads']:>8}/{sage['writes']:<5}{sum(phase.sql.values()):>8}{extra}  {counts} {phase.status}")
    return lines


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str))
