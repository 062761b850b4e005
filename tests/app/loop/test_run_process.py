"""Fine-tuning in a separate process: progress, a new version, cancel, kill and resume."""

from __future__ import annotations

import time

from loop_project import finetune_config, make_project

from engine import model_store
from training.run_process import start_run


def wait_for(run, predicate, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        run.poll()
        if predicate(run):
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out; status {run.status}, error {run.error!r}")


def test_a_run_reports_progress_and_registers_a_version(tmp_path):
    project = make_project(tmp_path / "proj", studies=10, labelled=10)
    run = start_run(finetune_config(project, epochs=2), tmp_path / "run")
    assert run.wait(120) == "finished", run.error
    assert run.losses and run.done == run.total > 0
    assert len(run.epochs) == 2 and "train_loss" in run.epochs[0]
    assert run.summary["version"] == "loop-seg@1"
    assert "segmentation.dice" in run.summary["test"]
    card = next(c for c in model_store.list_cards() if c.name == "loop-seg")
    assert "test.segmentation.dice" in card.metrics


def test_cancel_stores_nothing_and_resume_continues_from_the_checkpoint(tmp_path):
    project = make_project(tmp_path / "proj", studies=10, labelled=10)
    cfg = finetune_config(project, epochs=40)
    run = start_run(cfg, tmp_path / "run")
    wait_for(run, lambda r: r.done >= 2)
    assert run.eta_seconds() is not None
    run.cancel()
    assert run.wait(60) == "cancelled"
    assert model_store.active_version("loop-seg") is None
    assert not (model_store.user_root() / "loop-seg").exists() or not any(
        (model_store.user_root() / "loop-seg").glob("[0-9]*")
    )
    stopped_at = run.done
    resumed = run.resume()
    wait_for(resumed, lambda r: r.done > stopped_at)
    assert resumed.status == "running"  # the first attempt's "cancelled" is not the resumed run's
    resumed.cancel()
    assert resumed.wait(60) == "cancelled"


def test_a_killed_process_is_reported_and_registers_nothing(tmp_path):
    project = make_project(tmp_path / "proj", studies=10, labelled=10)
    run = start_run(finetune_config(project, epochs=40), tmp_path / "run")
    wait_for(run, lambda r: r.done >= 1)
    run.kill()
    assert run.wait(30) == "killed"
    assert "ended unexpectedly" in run.error
    assert model_store.active_version("loop-seg") is None


def test_a_bad_config_fails_with_one_line(tmp_path):
    project = make_project(tmp_path / "proj", studies=4, labelled=0)
    run = start_run(finetune_config(project), tmp_path / "run")
    assert run.wait(60) == "failed"
    assert "no labels for head 'segmentation'" in run.error
