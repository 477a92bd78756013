"""The online feature store, SQLite (default) and Redis (a real server on 127.0.0.1)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from servers import free_port, redis_server

from common.errors import ConfigError
from serving.store import RedisFeatureStore, open_store


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store = open_store(request.getfixturevalue("redis_url"))
    store.publish(features(0, marker=-1.0))  # empty it of an earlier test's rows
    return store


def features(n: int, marker: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "as_of": pd.Timestamp("2025-01-01"),
            "tier": pd.Categorical(["core", "general"] * (n // 2) + ["new"] * (n % 2)),
            "balance": np.where(np.arange(n) % 3 == 0, np.nan, np.arange(n) * 10.5),
            "marker": marker,
        }
    )


def test_lookup_returns_rows_in_request_order_and_names_unknown_ids(store):
    assert store.publish(features(50)) == 50
    rows, missing = store.lookup(["C00007", "C-NOPE", "C00003", "C00049"])
    assert missing == ["C-NOPE"]
    assert list(rows.column("customer_id")) == ["C00007", "C00003", "C00049"]
    np.testing.assert_array_equal(rows.numeric("balance"), [73.5, np.nan, 514.5])
    assert list(rows.column("tier")) == ["general", "general", "general"]
    assert list(rows.as_of()) == [np.datetime64("2025-01-01T00:00:00", "ns")] * 3
    assert store.count() == 50


def test_a_publish_replaces_the_whole_set(store):
    store.publish(features(50))
    store.publish(features(10, marker=2.0))
    assert store.count() == 10
    rows, missing = store.lookup(["C00001", "C00020"])
    assert missing == ["C00020"]
    assert list(rows.numeric("marker")) == [2.0]


def test_readers_see_one_snapshot_or_the_next_never_a_mix(store, monkeypatch):
    monkeypatch.setattr(RedisFeatureStore, "PUBLISH_CHUNK_ROWS", 100)  # many writes a publish
    store.publish(features(2_000, marker=1.0))
    seen, stop = set(), threading.Event()
    reader = open_store(store_url(store))

    def read() -> None:
        while not stop.is_set():
            rows, missing = reader.lookup(["C00000", "C01999"])
            seen.add((*rows.numeric("marker"), *missing))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for marker in (2.0, 3.0, 4.0):
            store.publish(features(2_000, marker=marker))
    finally:
        stop.set()
        thread.join()
    assert seen and all(len(markers) == 2 and len(set(markers)) == 1 for markers in seen), seen


def store_url(store) -> str:
    if hasattr(store, "path"):
        return f"sqlite:///{store.path}"
    kwargs = store._client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_an_unreachable_redis_names_the_setting_and_host_not_the_password():
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(ConfigError, match="serving.feature_store_url") as raised:
        open_store(url)
    assert "127.0.0.1" in str(raised.value) and "s3cret" not in str(raised.value)


def test_an_unsupported_store_names_both_kinds():
    with pytest.raises(ConfigError, match="sqlite:///.*redis://"):
        open_store("mongodb://127.0.0.1/features")
