import pytest


@pytest.fixture
def cfdi_storage_dir(settings, tmp_path):
    """The `cfdi` storage in a folder of this test's own."""
    folder = tmp_path / "cfdi-store"
    settings.STORAGES = {**settings.STORAGES, "cfdi": {
        "BACKEND": "cfdi.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(folder)}}}
    return folder
