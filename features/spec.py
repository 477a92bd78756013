"""How a feature is declared: one record beside the Ibis expression that computes it.

Each feature family (`features.customers`, `features.transactions`, …) declares its columns
with these records next to the expressions that compute them. The name lists the models
use, `retain features list` and `docs/features.md` are generated from the declarations, and
`check_computed` stops a build whose family computes a column it does not declare, or
declares one it does not compute.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from string import Formatter
from typing import Literal, get_args

from features.expressions import KEYS
from features.schema import PRODUCT_FAMILIES, TRANSACTION_CHANNELS

Missing = Literal["zero", "null"]
FeatureType = Literal["float64", "string"]

# What the template fields of a name stand for, besides `{w}` (each look-back window, inside
# a `PerWindow`) and `{product_id}` (each product of the extract's catalogue).
TEMPLATE_VALUES: dict[str, tuple[str, ...]] = {
    "channel": TRANSACTION_CHANNELS,
    "family": PRODUCT_FAMILIES,
}
# Columns an aggregate may carry besides features: the row key, the as-of date in epoch
# seconds, and helpers (named `_…`) that derivations read and the output drops.
AS_OF_SECONDS = "as_of_s"


class DeclarationMismatch(Exception):
    """A family computes columns it does not declare, or declares columns it does not compute."""


@dataclass(frozen=True)
class Feature:
    """One feature (or label) column as declared.

    Attributes:
        name: the column name, or a template of names: `{w}` (each of
            `features.windows_days`; only inside a `PerWindow`), `{channel}` (each transaction
            channel), `{family}` (each product family), `{product_id}` (each product of the
            extract's catalogue).
        meaning: one line for the docs and `retain features list`.
        window_days: days of history it reads, where that is bounded (set per window for
            `{w}`).
        missing: what a customer without the records behind an aggregate gets: "zero" (no
            complaint means 0 complaints: filled in after the join) or "null" (not known, or
            never). Only aggregates can be "zero"; what a derived feature gives without
            records follows from its formula (a trend of nothing is 1).
        dtype: float64 for numbers, string for categoricals.
        levels: a categorical's levels, fixed by the contract so a one-row request and a
            million-row batch get identical dtypes; None = open-ended (from the data a model
            saw).
        template: for an expanded column, the declared name it comes from.
    """

    name: str
    meaning: str
    window_days: int | None = None
    missing: Missing = "null"
    dtype: FeatureType = "float64"
    levels: tuple[str, ...] | None = None
    template: str | None = None

    def __post_init__(self) -> None:
        if self.missing not in get_args(Missing):
            raise ValueError(f"feature {self.name}: missing {self.missing!r} not in {Missing}")
        if self.dtype not in get_args(FeatureType):
            raise ValueError(f"feature {self.name}: dtype {self.dtype!r} not in {FeatureType}")
        if self.levels is not None and not self.categorical:
            raise ValueError(f"feature {self.name}: levels only for a categorical")
        unknown = set(self.template_fields) - {"w", "product_id", *TEMPLATE_VALUES}
        if unknown:
            raise ValueError(f"feature {self.name}: unknown template field(s) {sorted(unknown)}")

    @property
    def template_fields(self) -> tuple[str, ...]:
        return tuple(field for _, field, _, _ in Formatter().parse(self.name) if field)

    @property
    def per_product(self) -> bool:
        """One column per catalogue product: only known once an extract is loaded."""
        return "{product_id}" in (self.template or self.name)

    @property
    def categorical(self) -> bool:
        return self.dtype == "string"

    def expand(self, values: Mapping[str, Sequence]) -> list[Feature]:
        """The columns a template stands for, in the order of its fields' values."""
        fields = self.template_fields
        combinations = itertools.product(*(values[field] for field in fields))
        return [
            replace(
                self,
                name=self.name.format(**dict(zip(fields, combination, strict=True))),
                template=self.template or (self.name if fields else None),
            )
            for combination in combinations
        ]


@dataclass(frozen=True)
class PerWindow:
    """Features computed over each look-back window, laid out window by window: all of
    them for the first window, then all of them for the next."""

    features: tuple[Feature, ...]

    def __post_init__(self) -> None:
        for feature in self.features:
            if "w" not in feature.template_fields or feature.window_days is not None:
                raise ValueError(
                    f"feature {feature.name}: inside a PerWindow, a name holds {{w}} and no "
                    "window_days of its own"
                )


@dataclass(frozen=True)
class FeatureFamily:
    """The features computed from one source (a table, or other features), in output order."""

    name: str
    description: str
    features: tuple[Feature | PerWindow, ...]

    def __post_init__(self) -> None:
        for entry in self.features:
            if isinstance(entry, Feature) and "w" in entry.template_fields:
                raise ValueError(f"feature {entry.name}: {{w}} only inside a PerWindow")

    @property
    def templates(self) -> tuple[Feature, ...]:
        """The declarations as written (windowed ones once), in order."""
        return tuple(
            feature
            for entry in self.features
            for feature in (entry.features if isinstance(entry, PerWindow) else (entry,))
        )

    def columns(self, windows_days: Sequence[int], product_ids: Sequence[str]) -> list[Feature]:
        """Every column the family declares for these windows and this catalogue, in order."""
        values = {**TEMPLATE_VALUES, "product_id": product_ids}
        columns: list[Feature] = []
        for entry in self.features:
            if isinstance(entry, PerWindow):
                for w in windows_days:
                    for feature in entry.features:
                        columns += replace(feature, window_days=w).expand({**values, "w": [w]})
            else:
                columns += entry.expand(values)
        return columns


def computed_names(columns: Iterable[str]) -> list[str]:
    """The feature columns of an aggregate: keys, as-of seconds and `_…` helpers aside."""
    return [
        name for name in columns if name not in (*KEYS, AS_OF_SECONDS) and not name.startswith("_")
    ]


def check_computed(
    family: FeatureFamily,
    aggregated: Iterable[str],
    derived: Iterable[str],
    windows_days: Sequence[int],
    product_ids: Sequence[str],
) -> None:
    """Stop unless a family computes exactly the columns it declares.

    Args:
        family: the declaration.
        aggregated: feature columns of the family's aggregate (see `computed_names`).
        derived: names of the features derived after the join.
        windows_days: look-back windows of the build.
        product_ids: the catalogue of the build.

    Raises:
        DeclarationMismatch: names computed but not declared, declared but not computed,
            computed twice, or derived although declared `missing="zero"` (only aggregates
            are filled in).
    """
    columns = family.columns(windows_days, product_ids)
    declared = [column.name for column in columns]
    known = set(declared)
    derived = list(derived)
    computed = Counter([*aggregated, *derived])
    problems = []
    if undeclared := [name for name in computed if name not in known]:
        problems.append(f"computed but not declared: {undeclared}")
    if not_computed := [name for name in declared if name not in computed]:
        problems.append(f"declared but not computed: {not_computed}")
    if twice := sorted(name for name, count in computed.items() if count > 1):
        problems.append(f"computed twice: {twice}")
    zero = {column.name for column in columns if column.missing == "zero"}
    if filled_derived := [name for name in derived if name in zero]:
        problems.append(
            f"derived but declared missing='zero' (only aggregates are filled): {filled_derived}"
        )
    if problems:
        raise DeclarationMismatch(f"feature family {family.name}: " + "; ".join(problems))
