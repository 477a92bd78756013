"""Importers: public bank datasets translated into the bank data contract.

`retain data import SOURCE PATH --out DIR` reads a source with its reader, translates it with
its importer (pure: frames in, `ImportedExtract` out) and writes an extract folder that loads
like any bank's. docs/data-import.md lists every mapping and what each source loses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from features.importers import berka, santander
from features.importers.extract import ImportedExtract

Source = TypeVar("Source")


@dataclass(frozen=True)
class Importer(Generic[Source]):
    """How to read one kind of source and translate it: `translate` takes what `read` gives."""

    read: Callable[[Path], Source]  # touches the disk: the source as text
    translate: Callable[[Source], ImportedExtract]  # pure


IMPORTERS: dict[str, Importer[Any]] = {
    "berka": Importer(berka.read_berka, berka.import_berka),
    "santander": Importer(santander.read_santander, santander.import_santander),
}
