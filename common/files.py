"""Files that appear complete or not at all: written beside the target, then renamed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` to write to; renamed over `target` when the block
    ends without an error, removed when it fails. A reader sees the old file or the new
    one, never half of one; the process id keeps two writers' partial files apart."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, target)
    except BaseException:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)
        raise


def write_frame(frame, path: Path) -> Path:
    """A pandas frame as Parquet (`.parquet`) or CSV (anything else), atomically."""
    with atomic_path(path) as partial:
        if path.suffix == ".parquet":
            frame.to_parquet(partial, index=False)
        else:
            frame.to_csv(partial, index=False)
    return path


def write_text(text: str, path: Path) -> Path:
    """A UTF-8 text file, atomically."""
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return path
