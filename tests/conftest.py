import os, pytest
from pathlib import Path
from ultra_nb.material import shared_dir

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def shared():
    "The real test material; skipped with a reason when absent (never on CI, where shared_dir raises)."
    d = shared_dir()
    if d is None: pytest.skip("../shared (real weights and images) not found beside the repo")
    return d
