"""What a run adds up to: accuracy per dataset and strategy (lenient and strict extraction side by
side, as lm-evaluation-harness reports them), what it cost (generations and generated tokens per
question: a vote or a tool-integrated solve buys its accuracy with many), how often the program of
thought answered, why the hybrid fell back, throughput and latency; as JSON, a markdown table, a
chart, and next to the MAmmoTH paper's published accuracies."""

from __future__ import annotations

import collections
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from potcot.benchmarks.results import ItemResult, Session

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def summarize(
    results: Iterable[ItemResult], sessions: dict[str, list[Session]], skipped_rows: dict[str, int], grading: str
) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[ItemResult]] = collections.defaultdict(list)
    for result in results:
        groups[(result.dataset, result.strategy)].append(result)
    rows = [
        _row(dataset, strategy, items, sessions.get(f"{dataset}/{strategy}", []), skipped_rows.get(dataset, 0))
        for (dataset, strategy), items in sorted(groups.items())
    ]
    return {"grading": grading, "rows": rows}


def _row(dataset: str, strategy: str, items: list[ItemResult], sessions: list[Session], skipped: int) -> dict[str, Any]:
    count = len(items)
    latencies = sorted(item.latency_s for item in items if item.error is None) or [0.0]
    wall = sum(session.wall_s for session in sessions)
    fallbacks = collections.Counter(item.fallback_reason for item in items if item.fallback_reason)
    tried_program = strategy in ("hybrid", "pot")
    return {
        "dataset": dataset,
        "strategy": strategy,
        "items": count,
        "skipped_rows": skipped,
        "errors": sum(item.error is not None for item in items),
        "accuracy": _share(sum(item.correct for item in items), count),
        "accuracy_strict": _share(sum(item.correct_strict for item in items), count),
        **_cost(items),
        "pot_success_rate": _share(sum(item.answered_by == "pot" for item in items), count) if tried_program else None,
        "fallback_rate": _share(sum(fallbacks.values()), count) if strategy == "hybrid" else None,
        "fallbacks_by_reason": {reason: _share(n, count) for reason, n in fallbacks.most_common()},
        "questions_per_s": _share(sum(s.items for s in sessions), wall) if wall else None,
        "tokens_per_s": _share(sum(s.tokens for s in sessions), wall) if wall else None,
        "latency_s": {name: _percentile(latencies, q) for name, q in (("p50", 50), ("p90", 90), ("p99", 99))},
    }


def _cost(items: list[ItemResult]) -> dict[str, float]:
    """Mean generations and generated tokens per question, over the questions that were solved: a
    request that failed drew nothing, and counting it as free would make a strategy look cheap."""
    solved = [item for item in items if item.error is None]
    return {
        "samples_per_question": _share(sum(item.samples for item in solved), len(solved)),
        "completion_tokens_per_question": round(_share(sum(item.completion_tokens for item in solved), len(solved)), 1),
    }


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[percent - 1], 3)


def markdown_table(summary: dict[str, Any]) -> str:
    lines = [
        f"Grading: {summary['grading']}. Accuracy with potcot's answer extraction, and strict: a chain of thought "
        "counts only when it states or boxes its answer.",
        "",
        "| dataset | strategy | items | accuracy | strict | samples/q | gen tok/q | PoT answered | fell back "
        "| q/s | tok/s | p50 s | p90 s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        cells = [
            row["dataset"],
            row["strategy"],
            row["items"],
            *(_percent(row[key]) for key in ("accuracy", "accuracy_strict")),
            _number(row["samples_per_question"]),
            f"{row['completion_tokens_per_question']:.1f}",
            *(_percent(row[key]) for key in ("pot_success_rate", "fallback_rate")),
            *(_number(row[key]) for key in ("questions_per_s", "tokens_per_s")),
            row["latency_s"]["p50"],
            row["latency_s"]["p90"],
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    skipped = {row["dataset"]: row["skipped_rows"] for row in summary["rows"] if row["skipped_rows"]}
    if skipped:
        lines += ["", "Malformed rows skipped: " + ", ".join(f"{name} {count}" for name, count in skipped.items())]
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def draw_chart(summary: dict[str, Any], path: Path) -> None:
    """Accuracy by dataset, one bar per strategy; beside it, accuracy against generated tokens per
    question, so that what a strategy's accuracy costs is read off the same picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({row["dataset"] for row in summary["rows"]})
    figure, (bars, cost) = plt.subplots(1, 2, figsize=(max(6, 1.4 * len(datasets)) + 5, 4))
    _accuracy_bars(bars, summary["rows"], datasets)
    bars.set_title(f"Accuracy by dataset and strategy ({summary['grading']} grading)")
    _cost_accuracy(cost, summary["rows"])
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _accuracy_bars(axes: Axes, rows: list[dict[str, Any]], datasets: list[str]) -> None:
    """One group of bars per dataset, one bar per strategy."""
    strategies = sorted({row["strategy"] for row in rows})
    accuracy = {(row["dataset"], row["strategy"]): 100 * row["accuracy"] for row in rows}
    width = 0.8 / max(len(strategies), 1)
    for offset, strategy in enumerate(strategies):
        positions = [index + offset * width for index in range(len(datasets))]
        axes.bar(positions, [accuracy.get((d, strategy), 0) for d in datasets], width, label=strategy)
    axes.set_xticks([index + width * (len(strategies) - 1) / 2 for index in range(len(datasets))], datasets)
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 100)
    axes.legend()


def _cost_accuracy(axes: Axes, rows: list[dict[str, Any]]) -> None:
    """One labelled point per dataset and strategy, in the strategy's colour of the bars: up is
    better, left is cheaper."""
    strategies = sorted({row["strategy"] for row in rows})
    colours = {strategy: f"C{index % 10}" for index, strategy in enumerate(strategies)}
    for row in rows:
        tokens, accuracy = row["completion_tokens_per_question"], 100 * row["accuracy"]
        axes.scatter([tokens], [accuracy], color=colours[row["strategy"]])
        axes.annotate(f"{row['dataset']}/{row['strategy']}", (tokens, accuracy), textcoords="offset points",
                      xytext=(4, -10 if accuracy > 90 else 4), fontsize=8)  # fmt: skip
    most = max(row["completion_tokens_per_question"] for row in rows)
    axes.set_xlim(0, 1.25 * most or 1)
    axes.set_ylim(-2, 102)
    axes.set_xlabel("generated tokens per question")
    axes.set_ylabel("accuracy (%)")
    axes.set_title("Accuracy against generated tokens")


def comparison_table(summary: dict[str, Any], published: dict[str, Any], model: str) -> str:
    """This run's accuracy beside the paper's for the same model and datasets."""
    if model not in published["by_model"]:
        raise ValueError(f"no published figures for {model!r}; known: {', '.join(published['by_model'])}")
    by_strategy = published.get("by_strategy", {}).get(model, {})
    lines = [
        f"Published: {published['citation']}",
        "",
        f"| dataset | strategy | this run | {model} (paper) | {model} paper, same strategy |",
        "|---|---|---:|---:|---:|",
    ]
    for row in summary["rows"]:
        paper = published["by_model"][model].get(row["dataset"])
        same_strategy = by_strategy.get(row["strategy"], {}).get(row["dataset"])
        lines.append(
            f"| {row['dataset']} | {row['strategy']} | {100 * row['accuracy']:.1f} "
            f"| {'-' if paper is None else paper} | {'-' if same_strategy is None else same_strategy} |"
        )
    return "\n".join(lines) + "\n"
