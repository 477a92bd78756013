"""Writing the synthetic bank: one Parquet file per contract table, `_truth/` and the manifest.

The big tables are written month by month, on a background thread, so memory stays bounded
and the next month is simulated while this one is written.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.names import (
    TRUTH_ADOPTION,
    TRUTH_ADOPTION_PREFIX,
    TRUTH_CALLS,
    TRUTH_CHURN,
    TRUTH_DEPARTURES,
)
from features.schema import (
    BALANCES,
    CUSTOMER_ATTRIBUTES,
    CUSTOMERS,
    HOLDINGS,
    INTERACTIONS,
    MANIFEST_FILE,
    MARKET_RATES,
    PRODUCTS,
    TABLES,
    TRANSACTIONS,
)
from simulation.attributes import AttributeHistory
from simulation.calls import CallRecord
from simulation.catalogue import SNAPSHOT_PRODUCTS
from simulation.economy import Economy
from simulation.holdings import HoldingRows
from simulation.state import BankState, Population
from simulation.tables import (
    ACCOUNT_DIGITS,
    adoption_truth_table,
    balances_table,
    calls_truth_table,
    churn_truth_table,
    customer_attributes_table,
    customers_table,
    departures_truth_table,
    holdings_table,
    id_strings,
    interactions_table,
    market_rates_table,
    products_table,
    transactions_table,
)
from simulation.timeline import Calendar
from simulation.truth import MonthTruth

ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group at most, so readers can parallelise


class ParquetSinks:
    """One incremental Parquet writer per output table, writing on a background thread.

    Arrow releases the GIL while encoding, so the next month is simulated while this one is
    written. A single worker keeps every file's row groups in submission order, and at most
    PENDING_BYTES of tables wait to be written, which bounds memory.
    """

    PENDING_BYTES = 1 << 30

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self.pending: deque[tuple[Future[None], int]] = deque()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-writer")

    def __enter__(self) -> ParquetSinks:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait(0)
        finally:
            self.executor.shutdown(wait=True)
            for writer in self.writers.values():
                writer.close()

    def write(self, name: str, table: pa.Table) -> None:
        if name not in self.writers:
            # A contract table by name, a truth file by its path under the extract.
            path = self.out_dir / (name if name.endswith(".parquet") else f"{name}.parquet")
            self.writers[name] = pq.ParquetWriter(path, table.schema)
        self.rows[name] = self.rows.get(name, 0) + table.num_rows
        if table.num_rows == 0:
            return  # the file exists with its schema; an empty row group helps nobody
        self._wait(self.PENDING_BYTES - table.nbytes)
        future = self.executor.submit(
            self.writers[name].write_table, table, row_group_size=ROW_GROUP_ROWS
        )
        self.pending.append((future, table.nbytes))

    def _wait(self, allowed_bytes: int) -> None:
        """Wait for the oldest writes until at most `allowed_bytes` are pending; re-raise."""
        while self.pending and sum(size for _, size in self.pending) > allowed_bytes:
            future, _ = self.pending.popleft()
            future.result()


class BankWriter:
    """The synthetic bank's output files, written as the simulation produces their rows.

    Args:
        out_dir: The extract's folder; `_truth/` must exist in it.
        calendar: The simulation's months.
        n_customers: Customers the bank will have: their ids are formatted once.
    """

    def __init__(self, out_dir: Path, calendar: Calendar, n_customers: int) -> None:
        self.sinks = ParquetSinks(out_dir)
        self.calendar = calendar
        numbers = np.arange(1, n_customers + 1)
        self.customer_ids = id_strings("C", numbers, width=7)
        # Current accounts are numbered by customer (see population.initial_state).
        self.current_account_ids = id_strings("A", numbers, width=ACCOUNT_DIGITS)

    def __enter__(self) -> BankWriter:
        self.sinks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sinks.__exit__(*exc)

    def row_counts(self) -> dict[str, int]:
        """Rows written so far per contract table, by table name."""
        return {table.name: self.sinks.rows.get(table.name, 0) for table in TABLES}

    def write_products_and_rates(self, economy: Economy) -> None:
        self.sinks.write(PRODUCTS.name, products_table())
        self.sinks.write(MARKET_RATES.name, market_rates_table(economy, self.calendar))

    def write_customers(
        self, population: Population, state: BankState, history: AttributeHistory
    ) -> None:
        """Customers as they stand at extraction, and every version of their attributes."""
        self.sinks.write(CUSTOMERS.name, customers_table(population, state, self.customer_ids))
        self.sinks.write(
            CUSTOMER_ATTRIBUTES.name,
            customer_attributes_table(history, population, self.customer_ids),
        )

    def write_departures(self, state: BankState) -> None:
        table = departures_truth_table(state, self.calendar, self.customer_ids)
        self.sinks.write(str(TRUTH_DEPARTURES), table)

    def write_truth(self, month: int, truth: MonthTruth) -> None:
        day = self.calendar.month_start_day[month]
        self.sinks.write(str(TRUTH_CHURN), churn_truth_table(truth, day, self.customer_ids))
        self.sinks.write(
            str(TRUTH_ADOPTION),
            adoption_truth_table(truth, day, self.customer_ids, TRUTH_ADOPTION_PREFIX),
        )

    def write_calls(self, month: int, calls: CallRecord) -> None:
        day = self.calendar.month_start_day[month]
        self.sinks.write(str(TRUTH_CALLS), calls_truth_table(calls, day, self.customer_ids))

    def write_holdings(self, rows: HoldingRows) -> None:
        table = holdings_table(rows, self.customer_ids, self.current_account_ids)
        self.sinks.write(HOLDINGS.name, table)

    def write_transactions(self, columns: list[np.ndarray]) -> None:
        table = transactions_table(columns, self.customer_ids, self.current_account_ids)
        self.sinks.write(TRANSACTIONS.name, table)

    def write_interactions(self, columns: list[np.ndarray]) -> None:
        self.sinks.write(INTERACTIONS.name, interactions_table(columns, self.customer_ids))

    def write_balances(self, month: int, state: BankState) -> None:
        """The month-end balance of every open deposit, investment and loan."""
        last_day = int(self.calendar.month_start_day[month + 1]) - 1
        table = balances_table(state, SNAPSHOT_PRODUCTS, last_day, self.customer_ids)
        self.sinks.write(BALANCES.name, table)


def write_manifest(out_dir: Path, manifest: Mapping[str, object]) -> None:
    """The extract's `manifest.json`, as a bank's extract would carry it."""
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
