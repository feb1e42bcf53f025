"""Benchmark the local text classifier on a labelled CSV: k-fold figures, time, size, speed.

Run from ai-categorization-service/ with the package installed, on one core so the speed
figure means the same everywhere:

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
    python bench/evaluate_dataset.py --csv ../../shared/datasets/it_service_tickets_train.csv \\
        --text-column Document --label-column Topic_group --folds 5 --out var/bench/model.json

The thread variables are also set below before numpy loads, unless already set. The data set
is read from --csv at run time; it is never copied into the repository.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from ai_categorization_service.evaluation import (  # noqa: E402  (after the thread settings)
    cross_validate,
)
from ai_categorization_service.model import TextClassifier, read_labelled_csv  # noqa: E402

BATCH = 256
SPEED_RUNS = 3  # throughput is the median of this many runs: one run is noisy on a shared box


def throughput(model: TextClassifier, texts: list[str], batch: int = BATCH,
               min_seconds: float = 3.0) -> tuple[float, float]:
    """Tickets per second for ``predict_many`` over batches: by wall clock and by CPU time.

    The CPU-time figure is the one-core speed even when other processes share the machine.
    """
    model.predict_many(texts[:batch])
    done, wall, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        for start in range(0, len(texts), batch):
            done += len(model.predict_many(texts[start:start + batch]))
        elapsed = time.perf_counter() - wall
        if elapsed >= min_seconds:
            return done / elapsed, done / (time.process_time() - cpu)


def median_throughput(model: TextClassifier, texts: list[str],
                      runs: int = SPEED_RUNS) -> tuple[float, float]:
    """The median of ``runs`` throughput measurements, wall clock and CPU time separately."""
    results = [throughput(model, texts) for _ in range(runs)]
    return (statistics.median(wall for wall, _ in results),
            statistics.median(cpu for _, cpu in results))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, type=Path, help="labelled CSV with a header")
    parser.add_argument("--text-column", default="Document")
    parser.add_argument("--label-column", default="Topic_group")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N rows (0: all)")
    parser.add_argument("--speed-sample", type=int, default=5000,
                        help="texts used for the throughput measurement")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    texts, labels = read_labelled_csv(args.csv, args.text_column, args.label_column)
    if args.limit:
        texts, labels = texts[:args.limit], labels[:args.limit]
    print(f"{len(texts)} texts, {len(set(labels))} labels from {args.csv}")

    started, cpu = time.perf_counter(), time.process_time()
    report = cross_validate(texts, labels, folds=args.folds, seed=args.seed)
    cv_seconds, cv_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(report.format_table())
    print(f"cross-validation time: {cv_seconds:.1f} s ({cv_cpu:.1f} s CPU)")

    started, cpu = time.perf_counter(), time.process_time()
    model = TextClassifier.train(texts, labels, seed=args.seed)
    train_seconds, train_cpu = time.perf_counter() - started, time.process_time() - cpu
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        model.save(path)
        size_bytes = path.stat().st_size
        loaded = TextClassifier.load(path)
    speed, cpu_speed = median_throughput(loaded, texts[:args.speed_sample])
    print(f"training on all {len(texts)} texts: {train_seconds:.1f} s ({train_cpu:.1f} s CPU); "
          f"saved size: {size_bytes / 1e6:.1f} MB")
    print(f"throughput: {speed:,.0f} tickets/s wall clock, {cpu_speed:,.0f} tickets/s per "
          f"CPU second (median of {SPEED_RUNS} runs; predict_many, batches of {BATCH}, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']})")

    if args.out:
        result = {"csv": str(args.csv), "report": report.to_dict(),
                  "cross_validation_seconds": cv_seconds, "cross_validation_cpu_seconds": cv_cpu,
                  "train_seconds": train_seconds, "train_cpu_seconds": train_cpu,
                  "model_bytes": size_bytes, "tickets_per_second": speed,
                  "tickets_per_cpu_second": cpu_speed, "batch": BATCH,
                  "speed_runs": SPEED_RUNS,
                  "model_version": model.version}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
