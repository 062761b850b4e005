"""The runner lets an undecided ``auto`` predictor measure on the first batch, judged by task results."""

from engine.io.memory import ArrayCine
from engine.tasks.runner import MeasuresChoice, run_tasks
from engine.types import SegmentationResult


class Undecided:
    """A predictor that has not measured yet: records what the runner hands it."""

    def __init__(self, inner):
        self.inner = inner
        self.undecided = True
        self.measured = []

    def run_heads(self, keys, images, names):
        return self.inner.run_heads(keys, images, names)

    def measure_choice(self, keys, images, names, results):
        judged = results(self.run_heads(keys, images, names))
        self.measured.append((list(keys), images.shape, tuple(names), judged))
        self.undecided = False


def test_the_first_batch_is_measured_once_with_the_tasks_results(tiny, predictor, beating):
    cfg, _, ref = tiny
    pred = Undecided(predictor)
    assert isinstance(pred, MeasuresChoice) and not isinstance(predictor, MeasuresChoice)
    seen = []
    cine = ArrayCine(beating(n=5))
    run = run_tasks(cine, pred, cfg, ref, "segmentation", batch_size=2, progress=seen.append)
    assert len(pred.measured) == 1
    keys, shape, names, results = pred.measured[0]
    assert [k[1] for k in keys] == [0, 1] and shape[0] == 2 and names == ("segmentation",)
    assert [list(r) for r in results] == [["segmentation"], ["segmentation"]]
    first = results[0]["segmentation"]
    assert isinstance(first, SegmentationResult) and first.frame == 0
    assert (first.mask == run.tasks["segmentation"].frames[0].mask).all()
    assert seen[0].message == "measuring the fastest backend" and seen[-1].done == 5
