"""What a training run shows a person: plots, a table by tier, and a drift check."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve  # noqa: E402

from evaluation.metrics import calibration_slope_intercept  # noqa: E402
from training.model import BinaryModel  # noqa: E402

PSI_WARNING = 0.25  # the usual rule of thumb: above 0.25 a population has shifted


def curve_figures(labels: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, plt.Figure]:
    """ROC, precision-recall, calibration (reliability: realised rate against the mean
    prediction of equal-count deciles, each model's recalibration slope and intercept in
    the legend) and cumulative gains, every model on one axis."""
    figures = {
        name: plt.subplots(figsize=(6, 5))
        for name in ("roc", "precision_recall", "calibration", "cumulative_gains")
    }
    for model, score in scores.items():
        fpr, tpr, _ = roc_curve(labels, score)
        figures["roc"][1].plot(fpr, tpr, label=f"{model} (AUC {roc_auc_score(labels, score):.3f})")
        precision, recall, _ = precision_recall_curve(labels, score)
        figures["precision_recall"][1].plot(recall, precision, label=model)
        predicted, realised = _reliability(labels, score)
        slope, intercept = calibration_slope_intercept(labels, score)
        figures["calibration"][1].plot(
            predicted,
            realised,
            marker="o",
            label=f"{model} (slope {slope:.2f}, intercept {intercept:+.2f})",
        )
        order = np.argsort(-score, kind="stable")
        gains = np.cumsum(labels[order]) / max(labels.sum(), 1)
        figures["cumulative_gains"][1].plot(
            np.arange(1, len(order) + 1) / len(order), gains, label=model
        )
    figures["roc"][1].plot([0, 1], [0, 1], "k:", lw=1)
    figures["calibration"][1].plot([0, 1], [0, 1], "k:", lw=1)
    figures["cumulative_gains"][1].plot([0, 1], [0, 1], "k:", lw=1, label="random")
    titles = {
        "roc": ("false positive rate", "true positive rate", "ROC, test snapshot"),
        "precision_recall": ("recall", "precision", "Precision-recall, test snapshot"),
        "calibration": (
            "predicted probability (decile mean)",
            "realised rate",
            "Calibration, test snapshot",
        ),
        "cumulative_gains": (
            "share of customers called, by score",
            "share of churners reached",
            "Cumulative gains, test snapshot",
        ),
    }
    for name, (figure, axis) in figures.items():
        xlabel, ylabel, title = titles[name]
        axis.set(xlabel=xlabel, ylabel=ylabel, title=title)
        axis.legend(loc="best", fontsize=8)
        figure.tight_layout()
    return {name: figure for name, (figure, _) in figures.items()}


def _reliability(labels: np.ndarray, scores: np.ndarray, bins: int = 10):
    order = np.argsort(scores, kind="stable")
    chunks = [chunk for chunk in np.array_split(order, bins) if len(chunk)]
    return ([scores[c].mean() for c in chunks], [labels[c].mean() for c in chunks])


def importance_figures(
    model: BinaryModel, sample: pd.DataFrame, top: int = 20
) -> dict[str, plt.Figure]:
    """Gain importance, and mean |contribution| from LightGBM's own `pred_contrib` (the
    SHAP values of a tree model) on a sample of test rows."""
    names = list(model.schema.features)
    gain = pd.Series(model.booster.feature_importance("gain"), index=names)
    contributions = model.booster.predict(model.schema.prepare(sample), pred_contrib=True)
    shap = pd.Series(np.abs(contributions[:, :-1]).mean(axis=0), index=names)
    figures = {}
    for name, values, xlabel in (
        ("feature_importance", gain, "total gain"),
        ("shap_summary", shap, "mean |SHAP value| (log-odds)"),
    ):
        figure, axis = plt.subplots(figsize=(7, 6))
        values.nlargest(top).iloc[::-1].plot.barh(ax=axis)
        axis.set(xlabel=xlabel, title=f"Top {top} features: {xlabel}")
        figure.tight_layout()
        figures[name] = figure
    return figures


def per_product_figure(per_product: pd.DataFrame) -> plt.Figure:
    """ROC AUC per product on the test snapshot, every model side by side."""
    columns = [c for c in per_product if c.startswith("roc_auc ")]
    figure, axis = plt.subplots(figsize=(8, 5))
    per_product.set_index("product_id")[columns].rename(
        columns=lambda c: c.removeprefix("roc_auc ")
    ).plot.bar(ax=axis)
    axis.axhline(0.5, color="k", ls=":", lw=1)
    axis.set(
        xlabel="product",
        ylabel="ROC AUC among non-holders",
        title="Cross-sell: ROC AUC per product",
    )
    axis.set_ylim(0.4, 1.0)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def tier_table(test: pd.DataFrame, labels: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Per customer tier: size, realised and predicted churn, ranking quality."""
    frame = pd.DataFrame(
        {"tier": test["tier"].astype(str).to_numpy(), "label": labels, "score": scores}
    )
    cutoff = np.quantile(scores, 0.9)
    rows = []
    for tier, group in frame.groupby("tier"):
        both = group["label"].nunique() == 2
        rows.append(
            {
                "tier": tier,
                "customers": len(group),
                "churners": int(group["label"].sum()),
                "churn_rate": group["label"].mean(),
                "mean_predicted": group["score"].mean(),
                "roc_auc": roc_auc_score(group["label"], group["score"]) if both else np.nan,
                "share_in_top_10pct": (group["score"] >= cutoff).mean(),
            }
        )
    return pd.DataFrame(rows)


def population_stability(
    train: pd.DataFrame, test: pd.DataFrame, features: list[str], bins: int = 10
) -> pd.DataFrame:
    """Population stability index of every feature, test against train: sum over bins of
    (test share − train share) × ln(test share / train share); bins are train deciles
    (levels for categoricals); missing values are a bin of their own. Large periods are
    sampled (200,000 rows each): shares of ten bins are then exact to about ±0.1 %.

    `market_wide` marks a feature with one value per snapshot date in training (a market
    rate, the calendar): it moves between periods by nature, so its PSI says nothing of
    the customers and is left out of `max_feature_psi` and the drift warnings."""
    market_wide = set(market_wide_features(train, features))
    train = train.sample(min(len(train), 200_000), random_state=0)
    test = test.sample(min(len(test), 200_000), random_state=0)
    rows = []
    for name in features:
        if isinstance(train[name].dtype, pd.CategoricalDtype):
            reference = train[name].astype(str).fillna("<missing>")
            current = test[name].astype(str).fillna("<missing>")
            levels = sorted(set(reference) | set(current))
            expected = reference.value_counts(normalize=True).reindex(levels, fill_value=0)
            actual = current.value_counts(normalize=True).reindex(levels, fill_value=0)
        else:
            reference = train[name].astype(float)
            current = test[name].astype(float)
            edges = (
                np.unique(np.nanquantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
                if reference.notna().any()
                else np.array([])
            )
            expected = _shares(reference, edges)
            actual = _shares(current, edges)
        expected, actual = np.clip(expected, 1e-4, None), np.clip(actual, 1e-4, None)
        psi = float(np.sum((actual - expected) * np.log(actual / expected)))
        rows.append(
            {
                "feature": name,
                "psi": psi,
                "market_wide": name in market_wide,
                "train_mean": _mean(train[name]),
                "test_mean": _mean(test[name]),
            }
        )
    return pd.DataFrame(rows).sort_values("psi", ascending=False, ignore_index=True)


def market_wide_features(frame: pd.DataFrame, features: list[str]) -> list[str]:
    """The features with a single value per snapshot date (`as_of`) over several dates:
    the same for every customer on a day. None without an `as_of` column."""
    if "as_of" not in frame or frame["as_of"].nunique() < 2:
        return []
    distinct = frame.groupby("as_of", observed=True)[features].nunique(dropna=False)
    return [name for name in features if distinct[name].max() == 1]


def _shares(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    missing = values.isna()
    bins = np.searchsorted(edges, values[~missing].to_numpy(), side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return counts / max(len(values), 1)


def _mean(values: pd.Series) -> float:
    return (
        float(values.astype(float).mean())
        if not isinstance(values.dtype, pd.CategoricalDtype)
        else float("nan")
    )
