"""Safe output files: never inside the installed package, never over a file unasked, never half.

Every tgnn function and command that writes a file goes through :func:`check_output` (before
any work, so a refused call costs nothing) and :func:`atomic_output` (the content goes to a
temporary file in the same folder, which replaces the target only once it is complete: a run
that fails leaves any existing file untouched).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tgnn.errors import OutputExistsError, ProtectedPathError

__all__ = ["package_folders", "outside_package", "check_output", "atomic_output"]


def package_folders() -> list[Path]:
    """The folders of the installed ``tgnn`` package and of its mapped ``tgnn.theory``.

    Examples
    --------
    >>> import tgnn
    >>> Path(tgnn.__file__).resolve().parent in package_folders()
    True
    """
    folders = []
    for name in ("tgnn", "tgnn.theory"):
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            folders.append(Path(location).resolve())
    return folders


def outside_package(path: str | Path, *, argument: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path` unless it lies inside :func:`package_folders`.

    Raises
    ------
    ProtectedPathError
        ``path`` (symbolic links resolved) is a package folder or inside one.

    Examples
    --------
    >>> import tgnn
    >>> outside_package(Path(tgnn.__file__).parent / "models" / "weights", argument="--out")
    Traceback (most recent call last):
    ...
    tgnn.errors.ProtectedPathError: --out: '...weights' is inside the installed tgnn package ...
    """
    out = Path(path)
    target = out.resolve()
    for folder in package_folders():
        if target == folder or folder in target.parents:
            raise ProtectedPathError(
                f"{argument}: {str(out)!r} is inside the installed tgnn package ({folder}); "
                "expected a path outside it, e.g. in the current folder")
    return out


def check_output(
    path: str | Path, *, overwrite: bool = False, argument: str = "path",
    option: str = "overwrite=True",
) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a new file may be written there; raise otherwise.

    ``argument`` and ``option`` word the message (``"--out"`` and ``"--force"`` for the
    command line).

    Raises
    ------
    ProtectedPathError
        ``path`` lies inside the installed tgnn package (:func:`package_folders`).
    OutputExistsError
        ``path`` exists (a folder, or a file while ``overwrite`` is False).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_output(folder / "new.html").name
    'new.html'
    >>> check_output(folder)
    Traceback (most recent call last):
    ...
    tgnn.errors.OutputExistsError: path: ... is a folder; expected a file name
    """
    out = outside_package(path, argument=argument)
    if out.is_dir():
        raise OutputExistsError(f"{argument}: {str(out)!r} is a folder; expected a file name")
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"{argument}: {str(out)!r} exists; pass {option} to overwrite it")
    return out


@contextmanager
def atomic_output(
    path: str | Path, *, overwrite: bool = False, argument: str = "path",
    option: str = "overwrite=True",
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (``os.replace``).

    The checks of :func:`check_output` run before and again at the end; the parent folders are
    created. If the block raises, the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_output(out) as temporary:
    ...     _ = temporary.write_text("complete")
    >>> out.read_text()
    'complete'
    >>> try:
    ...     with atomic_output(out, overwrite=True) as temporary:
    ...         _ = temporary.write_text("half")
    ...         raise RuntimeError("the run failed")
    ... except RuntimeError:
    ...     pass
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('complete', ['a.txt'])
    """
    out = check_output(path, overwrite=overwrite, argument=argument, option=option)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # umask applies
    try:
        yield temporary
        check_output(out, overwrite=overwrite, argument=argument, option=option)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
