"""Benchmarks of issue 8: reslib against ``keras.applications``, and the course's time budgets.

Run ``make bench`` or ``python -m benchmarks`` (``--help`` for the options). Four sections, each
selectable with ``--only``:

1. ``models``: training throughput and peak memory of reslib's ResNet-50, ResNet-50 v2 and
   DenseNet-121 against ``keras.applications``' (goal: reslib >= 0.98x);
2. ``cifar``: CIFAR ResNet-20/56 and plain-20/56 on TensorFlow and JAX, with and without XLA,
   float32 and (on accelerators) mixed precision, and whether ``reslib.training``'s default
   choice is the fastest;
3. ``pipeline``: ``reslib.data.training_pipeline`` with augmentation alone, against (2);
4. ``lessons``, ``grading``, ``make-test``: each lesson's quick-mode wall time and peak memory,
   each exercise's autograde time, the whole ``make test`` (only when asked for: ~25 minutes).

Every measurement runs in its own subprocess. The table goes to stdout and the record, with the
hardware, versions and load averages, to ``benchmarks/results/<date>-<machine>.json``. Timings
are only comparable within one run on an otherwise idle machine.
"""
