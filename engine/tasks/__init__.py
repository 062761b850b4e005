"""Clinical tasks: post-processing of a head's raw outputs into typed results.

Each head kind (``engine.heads.kinds``) names its task class; ``TASKS`` finds them by name.
Importing this package does not import torch; the predictor that runs the heads does.
"""

from engine.tasks.base import TASKS, CineContext, FrameContext, Task, TaskInfo


def list_tasks() -> list[str]:
    """Names of the tasks, one per head kind."""
    return TASKS.names()


__all__ = ["TASKS", "CineContext", "FrameContext", "Task", "TaskInfo", "list_tasks"]
