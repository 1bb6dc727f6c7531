#!/usr/bin/env python
import os
import sys


def main() -> None:
    # The benchmarks are not part of the site: `manage.py bench` runs with bench.settings,
    # the site's settings plus the bench app; every other command with the site's own.
    settings = "bench.settings" if sys.argv[1:2] == ["bench"] else "sageconnect.settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
