"Shared test set-up: real data from the folder beside the checkout, no network, no windows."
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "REVIEWCLF_OFFLINE"):
    os.environ.setdefault(var, "1")
_shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "REVIEWCLF_DATA" not in os.environ and _shared.is_dir():
    os.environ["REVIEWCLF_DATA"] = str(_shared)


def _have_data():
    return Path(os.environ.get("REVIEWCLF_DATA", "/nonexistent")).is_dir()


@pytest.fixture
def data_dir():
    "The real datasets folder; tests that need it skip with a reason where it is absent."
    if not _have_data():
        pytest.skip("REVIEWCLF_DATA does not point at the real datasets folder")
    return Path(os.environ["REVIEWCLF_DATA"])
