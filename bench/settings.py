"""Settings for `manage.py bench`: the site's own settings, with the benchmarks installed.

manage.py uses these for the `bench` command (unless DJANGO_SETTINGS_MODULE says
otherwise); the site itself never installs the bench app.
"""
from sageconnect.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405
