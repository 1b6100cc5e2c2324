"""Which code and which libraries produced a model: package versions and the code version.

Both are read once per process (they cannot change while it runs) and cost nothing afterwards.
"""

from __future__ import annotations

import functools
import platform
from importlib import metadata
from pathlib import Path

import trainforge

__all__ = ["code_version", "package_versions"]

# Distribution names (not import names): mlflow-skinny is what the service installs, full mlflow is also accepted.
_PACKAGES = {
    "lightgbm": ("lightgbm",),
    "pandas": ("pandas",),
    "numpy": ("numpy",),
    "holidays": ("holidays",),
    "mlflow": ("mlflow", "mlflow-skinny"),
    "trainforge": ("trainforge",),
}


@functools.cache
def package_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on, and of Python: ``{"lightgbm": "4.7.0", ..., "python": …}``."""
    versions = {name: _installed_version(distributions) for name, distributions in _PACKAGES.items()}
    versions["python"] = platform.python_version()
    return versions


@functools.cache
def code_version() -> str:
    """The git commit of the trainforge source if it runs from a checkout, else ``"trainforge==<version>"``.

    The commit is read from ``.git`` files directly (no ``git`` subprocess, no GitPython): cheap, and enough to tell
    which commit an editable install ran. Uncommitted changes are not detected.
    """
    commit = _git_commit(Path(trainforge.__file__).resolve().parent)
    if commit:
        return f"git:{commit}"
    return f"trainforge=={_installed_version(('trainforge',))}"


def _installed_version(distributions: tuple[str, ...]) -> str:
    for distribution in distributions:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def _git_commit(start: Path) -> str | None:
    """Find ``.git`` above ``start`` and resolve ``HEAD`` to a commit id, or return ``None``."""
    for directory in (start, *start.parents):
        git_dir = directory / ".git"
        if git_dir.is_dir():
            return _resolve_head(git_dir)
        if git_dir.is_file():  # a worktree or submodule: ".git" holds "gitdir: <path>"
            text = git_dir.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return _resolve_head((directory / text.removeprefix("gitdir:").strip()).resolve())
            return None
    return None


def _resolve_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None  # detached HEAD holds the commit itself
    ref = head.removeprefix("ref:").strip()
    # A worktree keeps its HEAD locally but its refs in the common directory.
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for base in (git_dir, common):
        ref_file = base / ref
        if ref_file.is_file():
            return ref_file.read_text(encoding="utf-8").strip() or None
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                commit, _, name = line.partition(" ")
                if name == ref:
                    return commit
    return None  # a branch without commits yet
