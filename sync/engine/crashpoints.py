"""Steps import crash points from here; they live in sageconnect so cfdi can use them too."""
from sageconnect.crashpoints import CRASH_AT_VARIABLE, armed, crashpoint  # noqa: F401
