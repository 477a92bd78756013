"""Feature rows as the decision function reads them: a pandas frame (batch) or plain dicts
(the online store's rows, the API's hot path).

A one-row pandas frame of ~120 features costs ~1 ms to build and as much again to turn into
a model matrix; the booster then needs 0.02 ms. So a request for a few ids never builds a
frame for the churn part: it reads columns straight from the stored dicts. Batch scoring
passes its frame and takes the vectorised paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property

import numpy as np
import pandas as pd

# Below this many rows one thread predicts faster than a pool (LightGBM's OpenMP start-up
# costs more than it saves); the same rule as the models' own `predict`.
SINGLE_THREAD_ROWS = 2_000


class FeatureRows:
    """Customers' feature rows: `frame` or `records`, one of them given."""

    def __init__(
        self, frame: pd.DataFrame | None = None, records: Sequence[dict] | None = None
    ) -> None:
        if (frame is None) == (records is None):
            raise ValueError("FeatureRows takes a frame or records")
        self._frame = frame
        self._records = records

    @classmethod
    def of(cls, features: pd.DataFrame | FeatureRows) -> FeatureRows:
        return features if isinstance(features, FeatureRows) else cls(frame=features)

    def __len__(self) -> int:
        return len(self._frame) if self._frame is not None else len(self._records)

    def __contains__(self, name: str) -> bool:
        if self._frame is not None:
            return name in self._frame
        return bool(self._records) and name in self._records[0]

    @cached_property
    def frame(self) -> pd.DataFrame:
        """As a pandas frame (the cross-sell models and notebooks take one)."""
        if self._frame is not None:
            return self._frame
        frame = pd.DataFrame(list(self._records))
        if len(frame) and "as_of" in frame:
            frame["as_of"] = pd.to_datetime(frame["as_of"])
        return frame

    def column(self, name: str) -> np.ndarray:
        """Values of one column as an object array (None where a row lacks it)."""
        if self._frame is not None:
            return self._frame[name].to_numpy(dtype=object, copy=True)
        return np.array([record.get(name) for record in self._records], dtype=object)

    def numeric(self, name: str, fill: float = np.nan) -> np.ndarray:
        """One column as floats; missing and non-numeric values become `fill`."""
        if name not in self:
            return np.full(len(self), fill)
        if self._frame is not None:
            values = pd.to_numeric(self._frame[name], errors="coerce").to_numpy(dtype="float64")
        else:
            try:
                values = np.array([r.get(name) for r in self._records], dtype="float64")
            except (TypeError, ValueError):  # text where a number belongs
                values = pd.to_numeric(pd.Series(self.column(name)), errors="coerce").to_numpy(
                    dtype="float64"
                )
        return values if np.isnan(fill) else np.where(np.isnan(values), fill, values)

    def as_of(self) -> np.ndarray:
        """The snapshot time per row, as datetime64."""
        if self._frame is not None:
            return pd.to_datetime(self._frame["as_of"]).to_numpy().astype("datetime64[ns]")
        return np.array(
            [_timestamp(record["as_of"]) for record in self._records], dtype="datetime64[ns]"
        )

    def dicts(self) -> Sequence[Mapping]:
        """The rows as mappings of name to value (for phrasing reasons). A frame's rows are
        views on its columns, read only where a reason needs them: turning a million rows
        of ~120 columns into dicts would cost more than the decisions."""
        if self._records is not None:
            return self._records
        columns = _Columns(self._frame)
        return [_RowView(columns, i) for i in range(len(self._frame))]

    def take(self, rows: Sequence[int] | np.ndarray) -> FeatureRows:
        if self._frame is not None:
            return FeatureRows(frame=self._frame.iloc[rows])
        return FeatureRows(records=[self._records[i] for i in rows])

    def matrix(self, model) -> np.ndarray:
        """The model's input matrix. A frame goes through the model's own encoder; dicts
        are encoded here the same way (categoricals as their training level's index, NaN
        when missing or unseen; a test holds the two equal)."""
        schema = model.schema
        if self._frame is not None:
            return schema.matrix(self._frame)
        names = list(schema.features)
        out = np.empty((len(self._records), len(names)), dtype="float64")
        numeric = [j for j, name in enumerate(names) if name not in schema.categories]
        try:  # one conversion for the whole block; None becomes NaN
            out[:, numeric] = np.array(
                [[record.get(names[j]) for j in numeric] for record in self._records],
                dtype="float64",
            ).reshape(len(self._records), len(numeric))
        except (TypeError, ValueError):  # text where a number belongs: coerce per column
            for j in numeric:
                out[:, j] = self.numeric(names[j])
        for j, name in enumerate(names):
            if name in schema.categories:
                codes = {level: float(code) for code, level in enumerate(schema.categories[name])}
                out[:, j] = [codes.get(record.get(name), np.nan) for record in self._records]
        return out


class _Columns(dict):
    """A frame's columns as numpy arrays, each converted on first use."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__()
        self.frame = frame

    def __missing__(self, name: str) -> np.ndarray:
        self[name] = self.frame[name].to_numpy()
        return self[name]


class _RowView(Mapping):
    __slots__ = ("_columns", "_i")

    def __init__(self, columns: _Columns, i: int) -> None:
        self._columns, self._i = columns, i

    def __getitem__(self, name: str):
        if name not in self._columns.frame:
            raise KeyError(name)
        return self._columns[name][self._i]

    def __iter__(self):
        return iter(self._columns.frame.columns)

    def __len__(self) -> int:
        return len(self._columns.frame.columns)


def predict(booster, matrix: np.ndarray, **options) -> np.ndarray:
    threads = 1 if len(matrix) < SINGLE_THREAD_ROWS else 0  # 0: LightGBM's default
    return booster.predict(matrix, num_threads=threads, **options)


def _timestamp(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else pd.Timestamp(value)
