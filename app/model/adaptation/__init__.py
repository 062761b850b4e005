"""Local adaptation, Qt-free: correct -> fine-tune -> compare -> roll back, propagation and the queue.

* :mod:`.runs`: what a fine-tuning run reads (a snapshot of the chosen human-final masks) and
  its config; starts the run in its own process through ``training.api``.
* :mod:`.versions`: the stored versions with lineage and metrics; activate, roll back, compare.
* :mod:`.segment`: one version's segmentation of frames, through the engine's predictor and
  segmentation task (the same fan crop, backend and post-processing as every model run).
* :mod:`.ranking`: the "correct these next" frames.
* :mod:`.propagation`: carry corrected masks, boxes and landmarks to the frames between keyframes.

The app reaches training only through ``training.api``; torch and training are imported on
first use, inside the worker threads, so the GUI starts without them.
"""
