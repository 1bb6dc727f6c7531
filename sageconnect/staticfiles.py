"""Static files served by the app server itself (WhiteNoise), so /admin/ is styled under
`manage.py serve` with no web server in front, and behind any proxy.

`serve` collects them first (compressed, with hashed names) whenever the
sources changed since the last collection: a stamp of every source file's
name, size and modification time decides, so an unchanged installation
starts without the seconds compression takes.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.utils.translation import gettext as _
from whitenoise.storage import CompressedManifestStaticFilesStorage

STAMP = ".sources.sha256"


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, hashed-name storage, forgiving before the first collection.

    A page must render even where nobody collected the files yet (a shell,
    `runserver`, a gunicorn started by hand): it links the plain name then,
    instead of failing on the missing manifest entry.
    """

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            return name


def sources_fingerprint() -> str:
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            stat = os.stat(storage.path(path))
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def collect_if_changed(say=print) -> bool:
    """Run collectstatic when the sources changed since the last run; whether it ran."""
    root = Path(settings.STATIC_ROOT)
    stamp = root / STAMP
    fingerprint = sources_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    say(_("Collecting static files into %(root)s") % {"root": root})
    try:
        call_command("collectstatic", interactive=False, verbosity=0)
    except (OSError, ValueError) as exc:
        # The site still works without them, unstyled: say so once and go on.
        say(_("Static files could not be collected into %(root)s (%(reason)s); pages will be unstyled.")
            % {"root": root, "reason": exc})
        return False
    stamp.write_text(fingerprint)
    return True
