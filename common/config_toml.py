"""The configuration in force written back as TOML (`retain config`): a file that
`common.config.load_config` reads back unchanged."""

from __future__ import annotations

from typing import Any

from common.config import RetainConfig


def to_toml(config: RetainConfig) -> str:
    """The configuration as a TOML document that `load_config` reads back unchanged."""
    data = config.model_dump(mode="json")
    lines = [
        f"{key} = {_toml_value(value)}"
        for key, value in data.items()
        if not isinstance(value, dict)
    ]
    for section, values in data.items():
        if isinstance(values, dict):
            lines += _toml_section(section, values)
    return "\n".join(lines) + "\n"


def _toml_section(name: str, values: dict) -> list[str]:
    lines = ["", f"[{name}]"]
    lines += [
        f"{key} = {_toml_value(value)}"
        for key, value in values.items()
        if value is not None and not isinstance(value, dict)
    ]
    for key, value in values.items():
        if isinstance(value, dict):
            lines += _toml_section(f"{name}.{key}", value)
    return lines


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
