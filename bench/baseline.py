"""The code of an earlier revision, to run a benchmark's commands with it beside the current code."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BRANCH_POINT = "4942920"  # main when the scale work started: the figures of issue 10 are this code's


def baseline_code(rev: str = BRANCH_POINT) -> Path:
    """A temporary folder holding ``archiver/`` (and the migrations) as they were at ``rev``: put it first
    on PYTHONPATH to run that revision."""
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "archiver", "alembic", "alembic.ini"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder
