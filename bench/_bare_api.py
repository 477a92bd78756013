"""The HTTP stack's limit for bench/serving.py: bare async FastAPI endpoints.

`/score`: the same store look-up and churn `Booster.predict` as the service, nothing else.
`/engine/score`: the service's own `Engine.handle("score")` (the decision's churn part,
reasons as asked, the audit log), so BentoML's own cost shows against the same work."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/_bare_api.py PORT`: bench/ comes first on sys.path, and its
# serving.py (the benchmark) would shadow the serving package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402

from common.config import load_config  # noqa: E402
from serving.api import DecisionRequest, Engine  # noqa: E402
from serving.models import load_champions  # noqa: E402
from serving.rows import predict  # noqa: E402
from serving.store import open_store  # noqa: E402

app = FastAPI()
config = load_config()
champions = load_champions(config)
store = open_store(config.feature_store_url)
engine = Engine(config, champions)


@app.post("/score")
async def score(request: Request) -> dict:
    body = await request.json()
    rows, missing = store.lookup(body["customer_ids"])
    model = champions.churn
    probabilities = model.calibration.apply(predict(model.booster, rows.matrix(model)))
    return {
        "results": [
            {"customer_id": customer_id, "churn_probability": float(p)}
            for customer_id, p in zip(rows.column("customer_id"), probabilities, strict=True)
        ],
        "errors": missing,
    }


@app.post("/engine/score")
async def engine_score(request: Request) -> dict:
    return engine.handle("score", DecisionRequest.model_validate(await request.json()), "bench")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning")
