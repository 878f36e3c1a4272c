"""Benchmark: generate tokens while streaming expert weights from disk; print METRIC lines."""

import os
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ROOT)

from moe import MB, Engine  # noqa: E402  (must come from this directory, never an installed copy)
from moe.make_model import ensure_model  # noqa: E402

PROMPT = [17, 4, 301, 88, 256, 9, 140, 77, 411, 3, 62, 199, 500, 23, 305, 11]
NEW_TOKENS = 184
SEED = 7
BUDGET_MB = 8.0


def run(weights: str, new_tokens: int = NEW_TOKENS) -> dict:
    """Generate once with a fresh engine; return the tokens and the measurements."""
    engine = Engine(weights, budget_mb=BUDGET_MB)
    start = time.perf_counter()
    tokens = engine.generate(PROMPT, new_tokens, seed=SEED)
    elapsed = time.perf_counter() - start
    return {"tokens": tokens, "tokens_per_s": (len(PROMPT) + new_tokens) / elapsed,
            "resident_mb": engine.resident_peak / MB, "bytes_read_mb": engine.files.bytes_read / MB}


def metric_lines(result: dict) -> list[str]:
    return [f"METRIC tokens_per_s={result['tokens_per_s']:.1f}",
            f"METRIC resident_mb={result['resident_mb']:.3f}",
            f"METRIC bytes_read_mb={result['bytes_read_mb']:.3f}"]


def main() -> None:
    result = run(ensure_model())
    lines = metric_lines(result)
    print("\n".join(lines))
    target = os.environ.get("AUTORESEARCH_RESULT_FILE")
    if target:
        with open(target, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
