"""The campaign demo's folder: used only when the demo made it, cleared before a run."""

from __future__ import annotations

from pathlib import Path

MARKER = ".retain-campaign-demo"


def clear_demo_folder(out_dir: Path, files: list[str]) -> None:
    """Start from nothing: an earlier run's registry would keep its champions (a new
    version is only a challenger) and its outcomes would mix with this run's. Only a
    folder the demo made itself (its marker file) or an empty one is used; `files` are
    the demo's own files and folders at the top (effect.json, the service report).

    Raises:
        ConfigError: `out_dir` is a file, or a folder with other contents.
    """
    import shutil

    from common.errors import ConfigError

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: is a file; give a folder for the demo")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise ConfigError(
            f"--out {out_dir}: the folder has other contents; the campaign demo writes its "
            "bank, registry and lists into a folder of its own (a new or empty one)"
        )
    for name in ("bank", "outputs", "mlruns"):
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for folder in [*out_dir.glob("cycle-*"), *(out_dir / name for name in files)]:
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text("written by `retain demo campaign`; the demo may clear it\n")
