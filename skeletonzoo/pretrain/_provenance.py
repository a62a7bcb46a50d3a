"""Facts about the machine and the code a run used, for model cards and manifest entries."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

from .._version import __version__

__all__ = ["software", "git_commit"]


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the checkout the package runs from (``+dirty`` when modified), if any."""
    root = path or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=normal"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def software() -> dict[str, str | None]:
    """Versions of what computed the run."""
    return {
        "skeletonzoo": __version__,
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
