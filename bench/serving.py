"""Real-time latency: the BentoML service against a bare FastAPI endpoint and in-process.

Prepares (once, into bench/out/serving/) the demo-size synthetic bank, its champion models
and the online store, then in one run:

- in-process: `serving.api.Engine.handle` for one customer id, with and without reasons;
- over HTTP on 127.0.0.1 with wrk (Debian's package), server pinned to core 0 and wrk to
  core 1, one customer id per request, concurrency 1, 8 and 32, `--seconds` each:
  the bare FastAPI endpoint (`bench/_bare_api.py`: store lookup + churn Booster.predict,
  the HTTP stack's limit), bare FastAPI calling the service's own `Engine.handle` (the
  same work as the service, so BentoML's own cost shows), and `retain serve` (BentoML) on
  /score, with and without reasons.

Usage: .venv/bin/python bench/serving.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _timing import ROOT  # noqa: E402  (bench/ is the script folder)

sys.path.insert(0, str(ROOT))

from _champions import KEY, OUT, prepare  # noqa: E402


def in_process(customer_id: str, repeats: int = 300) -> dict:
    from common.config import load_config
    from serving.api import DecisionRequest, Engine

    engine = Engine(load_config())
    results = {}
    for reasons in (False, True):
        request = DecisionRequest(customer_ids=[customer_id], reasons=reasons)
        for _ in range(20):
            engine.handle("score", request, "bench")
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            engine.handle("score", request, "bench")
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        results["with reasons" if reasons else "no reasons"] = {
            "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[int(0.99 * len(times)) - 1], 2),
        }
    return results


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited: {process.stdout.read().decode()[-2000:]}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    sys.exit(f"server at {url} not ready after {seconds} s")


def wrk(url: str, body: dict, connections: int, seconds: int) -> dict:
    script = OUT / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{KEY}"\n'
    )
    output = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output).groups()
        return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]), 1),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": int(non_2xx[1]) if non_2xx else 0,
    }


def sweep(label, url, customer_id, levels, seconds, results) -> None:
    """wrk at each concurrency level, without and with reasons."""
    for reasons in (False, True):
        for c in levels:
            name = f"{label} {'with' if reasons else 'no'} reasons, c={c}"
            body = {"customer_ids": [customer_id], "reasons": reasons}
            results[name] = wrk(url, body, c, seconds)
            print(name, results[name], flush=True)


def serve(command: list[str], env: dict, probe: str) -> subprocess.Popen:
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        env=os.environ | env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_ready(probe, process)
    return process


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    OUT.mkdir(parents=True, exist_ok=True)
    env = prepare()
    from common.config import load_config
    from serving.store import open_store

    store = open_store(load_config().feature_store_url)
    # A customer in the store (the campaign's first callback, so the decision is a real one).
    customer_id = json.loads((OUT / "campaign" / "summary.json").read_text())["example_customer"]
    assert store.lookup([customer_id])[1] == [], customer_id
    results = {"in_process": in_process(customer_id), "http": {}}
    print(json.dumps(results["in_process"]), flush=True)
    levels = (1, 8, 32)
    bare_port, bento_port = free_port(), free_port()
    bare = serve(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "_bare_api:app",
            "--app-dir",
            "bench",
            "--port",
            str(bare_port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env,
        f"http://127.0.0.1:{bare_port}/docs",
    )
    try:
        for c in levels:
            results["http"][f"bare FastAPI, c={c}"] = wrk(
                f"http://127.0.0.1:{bare_port}/score",
                {"customer_ids": [customer_id]},
                c,
                args.seconds,
            )
            print(c, results["http"][f"bare FastAPI, c={c}"], flush=True)
        sweep(
            "bare FastAPI + Engine /score",
            f"http://127.0.0.1:{bare_port}/engine/score",
            customer_id,
            levels,
            args.seconds,
            results["http"],
        )
    finally:
        stop(bare)
    retain = Path(sys.executable).parent / "retain"
    bento = serve(
        [str(retain), "serve", "--port", str(bento_port)],
        env,
        f"http://127.0.0.1:{bento_port}/readyz",
    )
    try:
        sweep(
            "BentoML /score",
            f"http://127.0.0.1:{bento_port}/score",
            customer_id,
            levels,
            args.seconds,
            results["http"],
        )
    finally:
        stop(bento)
    (ROOT / "bench" / "out" / "serving.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
