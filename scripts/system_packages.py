"""The system packages the test suite needs, whether each is there, and the one sentence when it is not.

Standard library only: scripts/bootstrap.sh runs it with the system Python
before .venv exists, and tests/support.py loads it to skip, with the same
sentence, exactly the tests that need a missing package.

    python3 scripts/system_packages.py missing    # names of the missing packages, one line
    python3 scripts/system_packages.py explain    # one sentence per missing package
"""
from __future__ import annotations

import configparser
import ctypes
import glob
import os
import sys

# Debian package names (the project's machines are Debian): EXTERNAL.md §1 names unixodbc and
# tdsodbc; mssql-python's wheel bundles ODBC Driver 18, which links libgssapi_krb5 (ldd on
# mssql_python_odbc/libs/linux/debian_ubuntu/.../libmsodbcsql-18.6.so); the browser tests drive
# Debian's chromium.
APT_OPTIONS = "-y --no-install-recommends"
WHAT = {
    "unixodbc": "the unixODBC library (libodbc.so.2), which pyodbc and mssql-django load,",
    "tdsodbc": "FreeTDS's ODBC driver (registered as 'FreeTDS'),",
    "libgssapi-krb5-2": "the Kerberos library (libgssapi_krb5.so.2), which mssql-python's built-in ODBC driver loads,",
    "chromium": "Debian's chromium (/usr/bin/chromium), which the browser tests drive,",
}
CHROMIUM = "/usr/bin/chromium"


def _loads(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def has_unixodbc() -> bool:
    # Loading it, not asking dpkg: what matters is whether pyodbc can.
    return _loads("libodbc.so.2")


def has_tdsodbc() -> bool:
    ini = os.path.join(os.environ.get("ODBCSYSINI", "/etc"), "odbcinst.ini")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(ini)
    except configparser.Error:
        return False
    if not parser.has_option("FreeTDS", "Driver"):
        return False
    driver = parser.get("FreeTDS", "Driver")
    if os.path.isabs(driver):
        return os.path.exists(driver)
    candidates = [f"/usr/lib/*/odbc/{driver}", f"/usr/lib/odbc/{driver}", f"/usr/lib/*/{driver}",
                  f"/usr/local/lib/{driver}"]
    return any(glob.glob(pattern) for pattern in candidates)


def has_krb5() -> bool:
    return _loads("libgssapi_krb5.so.2")


def has_chromium() -> bool:
    return os.access(CHROMIUM, os.X_OK)


CHECKS = {"unixodbc": has_unixodbc, "tdsodbc": has_tdsodbc, "libgssapi-krb5-2": has_krb5, "chromium": has_chromium}


def missing() -> list[str]:
    return [name for name, present in CHECKS.items() if not present()]


def install_command(packages: list[str]) -> str:
    prefix = "" if os.geteuid() == 0 else "sudo "
    return f"{prefix}apt-get install {APT_OPTIONS} {' '.join(packages)}"


def sentence(package: str) -> str:
    """The one sentence for a missing package: bootstrap prints it, the tests that need it skip with it."""
    return (f"{WHAT[package]} is not installed on this machine: install it with "
            f"`{install_command([package])}` (scripts/bootstrap.sh does that itself when it runs as root, "
            f"unless SAGECONNECT_BOOTSTRAP_NO_APT is set).")


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else "explain"
    absent = missing()
    if action == "missing":
        print(" ".join(absent))
    elif action == "explain":
        for package in absent:
            print(sentence(package))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
