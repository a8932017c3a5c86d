"""Bayesian optimization: a Gaussian process of the objective (Optuna's GPSampler), as
SageMaker documents its Bayesian strategy.

The first trials (``STARTUP_TRIALS``, counting warm-start trials) are random; after them
the GP, fitted to every finished trial, picks the point of highest expected improvement.
Warm-start trials of parent jobs join the study as completed trials, so the GP starts from
what the parents learnt. Ranges are modelled on their scale (see ``_space``).

GPSampler needs PyTorch and SciPy. Where either is missing the strategy uses Optuna's
TPESampler (a tree-structured Parzen estimator, also Bayesian) and logs a warning.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from sagebox.tuning.strategies._optuna import OptunaStrategy

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

STARTUP_TRIALS = 5  # random trials before the GP takes over (Optuna's default is 10)


def gp_available() -> bool:
    """Whether GPSampler's dependencies (torch, scipy) are installed."""
    for module in ("torch", "scipy"):
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except (ImportError, ValueError, AttributeError):  # e.g. blocked in sys.modules
            return False
    return True


class BayesianStrategy(OptunaStrategy):
    name = "Bayesian"
    learns_from_prior = True

    def _sampler(self) -> optuna.samplers.BaseSampler:
        import optuna

        if gp_available():
            self.sampler_name = "GPSampler"
            import torch

            # The GP is small: one thread fits it as fast, and several only contend with
            # the trials' own training for the machine's cores (about 4x slower here).
            torch.set_num_threads(1)
            return optuna.samplers.GPSampler(seed=self.seed, n_startup_trials=STARTUP_TRIALS)
        log.warning(
            "The Bayesian strategy uses Optuna's TPESampler instead of its Gaussian process "
            "(GPSampler), because PyTorch or SciPy is not installed. Install both "
            "(pip install torch scipy) for the Gaussian process."
        )
        self.sampler_name = "TPESampler"
        return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=STARTUP_TRIALS)
