"""Run every benchmark: `make bench`. Figures go to stdout and bench/results/latest.txt."""
import sys

from . import draw_bench, mix_bench, page_bench, pdf_bench, phone_bench, registry_bench, report_bench, save_bench
from .common import Report

BENCHMARKS = {"registry": registry_bench.run, "draw": draw_bench.run, "draw-dense": draw_bench.dense, "save": save_bench.run, "pdf": pdf_bench.run,
              "pages": page_bench.run, "phone": phone_bench.run, "report": report_bench.summary,
              "archive": report_bench.archive, "mix": mix_bench.run}


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    report = Report("xcapp benchmarks (make bench)")
    for name in chosen:
        report.add(f"== {name} ==")
        BENCHMARKS[name](report)
    # A full run replaces latest.txt; a partial run writes its own file beside it.
    path = report.write("latest.txt" if not argv else f"latest-{'-'.join(chosen)}.txt")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
