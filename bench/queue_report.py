"""The figures and the table of bench/job_queue.py, and which of issue 13's goals a run met."""

from __future__ import annotations

import statistics
from typing import Any


def p99(values: list[float]) -> float:
    """The 99th percentile (the value 99 % of the sorted values stay at or under)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def summary(latencies: list[float], throughput: float) -> dict[str, float]:
    """One run's row figures: latency p50/p99 in ms, throughput, sample count."""
    return {
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": round(p99(latencies) * 1000, 1),
        "throughput_jobs_per_s": round(throughput, 1),
        "samples": len(latencies),
    }


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over several rounds (one round: that round's figures)."""
    return {
        key: round(statistics.median(run[key] for run in runs), 1)
        for key in runs[0]
        if key != "samples"
    } | {"samples": sum(run["samples"] for run in runs), "rounds": len(runs)}


def goals_met(rows: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The issue's goals, each with whether this run met it."""

    def row(backend: str, workers: int) -> dict[str, Any] | None:
        return next((r for r in rows if r["backend"] == backend and r["workers"] == workers), None)

    goals: list[tuple[str, bool]] = []
    pg4 = row("i2v postgresql", 4)
    if pg4 is not None:
        goals.append(("PostgreSQL, 4 workers: p50 <= 10 ms", pg4["latency_p50_ms"] <= 10))
        goals.append(("PostgreSQL, 4 workers: p99 <= 30 ms", pg4["latency_p99_ms"] <= 30))
    for workers in sorted({r["workers"] for r in rows}):
        pg, rq = row("i2v postgresql", workers), row("rq + redis", workers)
        if pg is not None and rq is not None:
            goals.append(
                (
                    f"PostgreSQL no-op jobs/s >= RQ's, {workers} worker(s)",
                    pg["throughput_jobs_per_s"] >= rq["throughput_jobs_per_s"],
                )
            )
    for backend in ("i2v sqlite", "i2v postgresql"):
        idle = [r["idle_cpu_percent"] for r in rows if r["backend"] == backend]
        if idle and idle[0] is not None:
            goals.append((f"{backend}: idle worker CPU <= 0.2 % of a core", idle[0] <= 0.2))
    sqlite = [r["latency_p99_ms"] for r in rows if r["backend"] == "i2v sqlite"]
    if sqlite:
        goals.append(("SQLite: submit -> start p99 <= 100 ms", max(sqlite) <= 100))
    return goals


def print_table(rows: list[dict[str, Any]]) -> None:
    """The rows as a fixed-width table."""
    header = (
        f"{'backend':<25}{'workers':>8}{'p50 ms':>10}{'p99 ms':>10}{'jobs/s':>10}{'idle CPU %':>12}"
        f"{'submit p50/p99 ms':>19}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        idle_cpu = "-" if row["idle_cpu_percent"] is None else f"{row['idle_cpu_percent']:.3f}"
        submit = f"{row['submit_p50_ms']}/{row['submit_p99_ms']}" if "submit_p50_ms" in row else "-"
        print(
            f"{row['backend']:<25}{row['workers']:>8}{row['latency_p50_ms']:>10}"
            f"{row['latency_p99_ms']:>10}{row['throughput_jobs_per_s']:>10}{idle_cpu:>12}"
            f"{submit:>19}"
        )
