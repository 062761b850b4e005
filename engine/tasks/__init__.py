"""Clinical tasks, one per file: preprocessing, the model's heads, post-processing into typed results.

Importing this package registers every task in ``TASKS`` and does not import torch; the
predictor that runs the heads does.
"""

# each import registers one task
from engine.tasks import (
    classify,  # noqa: F401
    detect,  # noqa: F401
    enhance,  # noqa: F401
    landmarks,  # noqa: F401
    measure,  # noqa: F401
    report,  # noqa: F401
    segment,  # noqa: F401
)
from engine.tasks.base import TASKS, CineContext, FrameContext, Task, TaskInfo, register_task


def list_tasks() -> list[str]:
    """Names of the registered tasks."""
    return TASKS.names()


__all__ = ["TASKS", "CineContext", "FrameContext", "Task", "TaskInfo", "list_tasks", "register_task"]
