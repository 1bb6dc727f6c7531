"""The staff pages' charts, drawn here as SVG: no script, no library, nothing to load.

Each function takes sync.dashboard.ChartData and returns one <figure> holding
the picture (an <svg> with role="img" and a name), a legend, and the same
numbers as a table for whoever cannot see the picture.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from sync.models import SyncRun

WIDTH, HEIGHT = 420, 180
LEFT, RIGHT, TOP, BOTTOM = 30, 6, 10, 24
# Run outcomes in stacking order, each with a colour people read as that outcome.
RUN_COLOURS = {
    SyncRun.Status.SUCCEEDED: "#2f855a",
    SyncRun.Status.PARTIAL: "#d97706",
    SyncRun.Status.FAILED: "#c53030",
    SyncRun.Status.SKIPPED: "#9ca3af",
    SyncRun.Status.RUNNING: "#3b82f6",
}
# Colours for the kinds of what needs a person, handed out in order.
PALETTE = ("#c53030", "#d97706", "#7c3aed", "#2563eb", "#0d9488", "#db2777", "#4b5563", "#65a30d", "#0891b2")
BAR_COLOUR = "#1f3a5f"


@dataclass
class Series:
    key: str
    label: str
    colour: str


def _day(day: dt.date) -> str:
    return day.strftime("%m-%d")


def _figure(name: str, caption: str, svg: str, legend: list[Series], table: str) -> SafeString:
    items = "".join(format_html('<li><span class="swatch" style="background:{}"></span>{}</li>', s.colour, s.label)
                    for s in legend)
    return format_html(
        '<figure class="chart" data-chart="{}"><figcaption>{}</figcaption>{}{}'
        '<details><summary>{}</summary>{}</details></figure>',
        name, caption, mark_safe(svg), mark_safe(f'<ul class="legend">{items}</ul>' if items else ""),
        _("The numbers"), mark_safe(table))


def _stacked_bars(name: str, title: str, days: list[dt.date], per_day: list[Counter], series: list[Series]) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([sum(counts[s.key] for s in series) for counts in per_day] + [1])
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    parts = [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" class="tick">{escape(number_format(top))}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for index, (day, counts) in enumerate(zip(days, per_day)):
        x = LEFT + index * slot + (slot - bar) / 2
        y = float(TOP + plot_h)
        for s in series:
            n = counts[s.key]
            if not n:
                continue
            height = plot_h * n / top
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{s.colour}" '
                f'data-series="{escape(s.key)}" data-day="{day.isoformat()}" data-value="{n}">'
                f'<title>{escape(f"{_day(day)}: {n} {s.label}")}</title></rect>')
        if index % 2 == (len(days) - 1) % 2:  # every other day, always the last
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="tick">'
                         f'{_day(day)}</text>')
    return _svg(name, title, parts)


def _svg(name: str, title: str, parts: list[str]) -> str:
    return (f'<svg class="chart-{escape(name)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>")


def _table(days: list[dt.date], per_day: list[Counter], series: list[Series]) -> str:
    head = "".join(f"<th scope=\"col\">{escape(s.label)}</th>" for s in series)
    rows = "".join(
        f"<tr><th scope=\"row\">{day.isoformat()}</th>"
        + "".join(f'<td class="num">{counts[s.key]}</td>' for s in series) + "</tr>"
        for day, counts in zip(days, per_day))
    return (f'<div class="scroll"><table class="chart-data"><thead><tr><th scope="col">{escape(_("Day"))}</th>'
            f"{head}</tr></thead><tbody>{rows}</tbody></table></div>")


def runs_chart(data) -> SafeString:
    series = [Series(status, str(SyncRun.Status(status).label), colour) for status, colour in RUN_COLOURS.items()]
    shown = [s for s in series if any(counts[s.key] for counts in data.runs)] or series[:1]
    title = _("Runs per day by outcome, last %(n)s days") % {"n": len(data.days)}
    return _figure("runs", title, _stacked_bars("runs", title, data.days, data.runs, shown), shown,
                   _table(data.days, data.runs, shown))


def needing_chart(data, label) -> SafeString:
    kinds = sorted({kind for counts in data.needing for kind, n in counts.items() if n})
    series = [Series(kind, label(kind), PALETTE[index % len(PALETTE)])
              for index, kind in enumerate(kinds)]
    title = _("Records needing a person, last %(n)s days") % {"n": len(data.days)}
    if not series:
        return _figure("needing", title, _stacked_bars("needing", title, data.days, data.needing, []), [],
                       f'<p>{escape(_("Nothing waited for a person in these days."))}</p>')
    return _figure("needing", title, _stacked_bars("needing", title, data.days, data.needing, series), series,
                   _table(data.days, data.needing, series))


def durations_chart(data, step_label) -> SafeString:
    """One strip per step: its daily mean duration, its slowest run beside it."""
    steps = [step for step, means in data.durations.items() if any(m is not None for m in means)]
    title = _("Duration per step, last %(n)s days") % {"n": len(data.days)}
    row_h, label_w, note_w = 18, 136, 70
    height = max(len(steps), 1) * row_h + 22
    slot = (WIDTH - label_w - note_w) / max(len(data.days), 1)
    parts = []
    for row, step in enumerate(steps):
        means = data.durations[step]
        # Each strip on its own scale, but never finer than a second: a step of milliseconds stays flat.
        scale = max([m for m in means if m is not None] + [1.0])
        y = 4 + row * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" class="tick">'
                     f'{escape(step_label(step))}</text>')
        for index, mean in enumerate(means):
            if mean is None:
                continue
            h = max((row_h - 5) * mean / scale, 1.0)
            x = label_w + index * slot + slot * 0.15
            parts.append(
                f'<rect x="{x:.1f}" y="{y + row_h - 3 - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{BAR_COLOUR}" data-series="{escape(step)}" data-day="{data.days[index].isoformat()}" '
                f'data-value="{mean:.3f}"><title>{escape(f"{_day(data.days[index])}: {mean:.2f} s")}</title></rect>')
        parts.append(f'<text x="{WIDTH - note_w + 6}" y="{y + 12}" class="tick">'
                     f'{escape(_("max %(s)s s") % {"s": number_format(data.longest.get(step, 0), 1)})}</text>')
    axis_y = height - 16
    parts.append(f'<text x="{label_w}" y="{axis_y + 12}" class="tick">{_day(data.days[0])}</text>')
    parts.append(f'<text x="{WIDTH - note_w}" y="{axis_y + 12}" text-anchor="end" class="tick">'
                 f'{_day(data.days[-1])}</text>')
    svg = (f'<svg class="chart-durations" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>")
    head = "".join(f'<th scope="col">{escape(step_label(step))}</th>' for step in steps)
    rows = "".join(
        f"<tr><th scope=\"row\">{day.isoformat()}</th>" + "".join(
            f'<td class="num">{"" if data.durations[step][i] is None else f"{data.durations[step][i]:.2f}"}</td>'
            for step in steps) + "</tr>"
        for i, day in enumerate(data.days))
    table = (f'<div class="scroll"><table class="chart-data"><thead><tr><th scope="col">{escape(_("Day"))}</th>'
             f"{head}</tr></thead><tbody>{rows}</tbody></table>"
             f'<p class="muted">{escape(_("Mean seconds per day."))}</p></div>') if steps else (
        f'<p>{escape(_("No step ran in these days."))}</p>')
    return _figure("durations", title, svg, [], table)
