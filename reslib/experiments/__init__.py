"""The course's experiments, one per lesson, each with a quick and a full configuration.

``python -m reslib list`` lists them; ``python -m reslib run NAME --quick|--full`` runs one.
"""

from reslib.experiments import degradation, gradient_flow  # noqa: F401  (registers them)
from reslib.experiments._registry import (
    EXPERIMENTS,
    Experiment,
    environment,
    run_experiment,
    stored_result,
)

__all__ = ["EXPERIMENTS", "Experiment", "environment", "run_experiment", "stored_result"]
