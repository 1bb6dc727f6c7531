"""Settings for the real-subprocess tests: the real settings, plus a step
registry named in the environment (SYNC_TEST_STEP_MODULES, JSON)."""
import json
import os

from sageconnect.settings import *  # noqa: F401,F403

if os.environ.get("SYNC_TEST_STEP_MODULES"):
    SYNC_STEP_MODULES = json.loads(os.environ["SYNC_TEST_STEP_MODULES"])

# Like the suite's own settings: the tests read these processes' output in English.
LANGUAGE_CODE = "en"
