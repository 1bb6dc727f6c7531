"""Settings for the test suite: the real settings, with a throw-away var/."""
import os
import tempfile

os.environ.setdefault("SAGECONNECT_VAR_DIR", tempfile.mkdtemp(prefix="sageconnect-test-"))
os.environ.setdefault("SAGECONNECT_FERNET_KEYS", "Jq3kXz0b7cQm2vS8dL1nR5tY9uW4eA6hP0oI3gF7jK8=")
# Tests ask the SAT stand-in far more often than a site asks SAT; the limit's own tests set theirs.
os.environ.setdefault("SAGECONNECT_SAT_CALLS_PER_MINUTE", "100000")
# The tests talk to the stand-ins: switched on here, explicitly, whatever the shell says
# (and inherited by the processes the tests start).
os.environ["SAGECONNECT_SANDBOX"] = "true"

from sageconnect.settings import *  # noqa: E402,F401,F403

# The tests measure the benchmarks too; the site itself never installs them (bench.settings).
INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The hashed names need a collectstatic first; the tests that check them run `serve`, which does it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "en"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not :memory:: live_server's request threads and the CFDI
    # download threads then get connections of their own instead of sharing
    # the test's one in-memory connection.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(os.environ["SAGECONNECT_VAR_DIR"], "test-default.sqlite3")
    }
