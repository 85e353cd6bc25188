"""The course's experiments, one per lesson, each with a quick and a full configuration.

``python -m reslib list`` lists them; ``python -m reslib run NAME --quick|--full`` runs one.
"""

from reslib.experiments import (  # noqa: F401  (registers them)
    bottleneck_cost,
    deep_tricks,
    degradation,
    densenet_vs_resnet,
    gradient_flow,
    highway_depth,
    landscape,
    preact,
    recurrent_residual,
    transformer_warmup,
    unet_skips,
    unraveled,
)
from reslib.experiments._registry import (
    EXPERIMENTS,
    Experiment,
    environment,
    run_experiment,
    stored_result,
)

__all__ = ["EXPERIMENTS", "Experiment", "environment", "run_experiment", "stored_result"]
