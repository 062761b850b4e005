"""Score a model on the demo recipe's held-out simulated test set and print JSON.

    python bench/demo_metrics.py                       # the bundled demo model, configs/demo.yaml
    python bench/demo_metrics.py --model runs/demo/echocare-demo --test-seed 4242

Test scenes are simulated from ``--test-seed`` (default: the recipe's ``test_seed``), whose
simulator seeds the recipe never trains on; figures come from the engine's own tasks
(``training.recipes.evaluate``). The JSON holds every figure, the targets and whether each is met.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from training.recipes.config import load_recipe
    from training.recipes.evaluate import TARGETS, check_targets, evaluate

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "resources" / "models" / "echocare-demo"))
    p.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"), help="recipe (its eval section)")
    p.add_argument("--test-seed", type=int, default=None)
    args = p.parse_args()
    recipe = load_recipe(args.config)
    seed = recipe.test_seed if args.test_seed is None else args.test_seed
    if seed == recipe.seed:
        print("error: the test seed must differ from the recipe's training seed", file=sys.stderr)
        return 2
    start = time.perf_counter()
    metrics = evaluate(args.model, recipe.eval, seed, log=lambda msg: print(msg, file=sys.stderr))
    doc = {
        "model": args.model,
        "test_seed": seed,
        "eval": {
            "per_scene": recipe.eval.per_scene,
            "cardiac_cines": recipe.eval.cardiac_cines,
            "size": list(recipe.eval.size),
        },
        "metrics": metrics,
        "targets": {k: {"bound": b, "higher_is_better": h} for k, (b, h) in TARGETS.items()},
        "met": check_targets(metrics),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(doc, sort_keys=True))  # one line: bench/run_all.py reads the last line
    return 0


if __name__ == "__main__":
    sys.exit(main())
