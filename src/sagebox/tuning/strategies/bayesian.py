"""Bayesian optimization: a Gaussian process of the objective (Optuna's GPSampler), as
SageMaker documents its Bayesian strategy.

The first trials (``STARTUP_TRIALS``, counting warm-start trials) are random; after them
the GP, fitted to every finished trial, picks the point of highest expected improvement.
Warm-start trials of parent jobs join the study as completed trials, so the GP starts from
what the parents learnt. Ranges are modelled on their scale (see ``_space``).

Two departures from Optuna's GPSampler, both because a tuning objective is noisy and
has outliers, and both measured by ``benchmarks/tuning.py`` (figures 1 and 4):

- The GP is fitted to the *normal scores of the objective's ranks* (a Gaussian copula),
  not to the raw values: the i-th worst of n trials scores the standard normal quantile
  of ``(i - 0.5) / n``. One configuration that fails to learn (an ``eta`` of 0 scores
  AUC 0.5 among trials at 0.99) would otherwise dominate the standardized values, the
  GP would see every good trial as equally good, and the search would wander to the
  boundaries. The search is the same for any increasing transformation of the metric
  (AUC or its logit, a loss or its log). Salinas, Shen and Perrone (ICML 2020, "A
  Quantile-based Approach for Hyperparameter Transfer Learning") fit a GP of tuning
  objectives the same way. The cost: on a smooth, noise-free objective the GP pins the
  optimum down less precisely than on raw values.
- The expected improvement is that of an *observation* (the GP's noise added to its
  predictive variance), not of the noise-free objective: the tuning job's best training
  job is the one with the best observed objective, and a trial in a region known to be
  good can still beat a lucky best. On Optuna 5 this applies when one trial is asked at
  a time; with trials running, its batch acquisition (qLogEI) decides as it is.

GPSampler needs PyTorch and SciPy. Where either is missing the strategy uses Optuna's
TPESampler (a tree-structured Parzen estimator, also Bayesian) and logs a warning.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from sagebox.tuning.early_stopping import average_ranks
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


def normal_scores(values: Sequence[float]) -> list[float]:
    """Each value's rank as a standard normal quantile, ``(rank + 0.5) / n`` for the
    0-based rank from the lowest, ties sharing their average rank: the values' spread and
    outliers do not matter, only their order."""
    normal, n = NormalDist(), len(values)
    return [normal.inv_cdf((rank + 0.5) / n) for rank in average_ranks(values)]


def _rank_gp_sampler(seed: int | None) -> optuna.samplers.BaseSampler:
    """A GPSampler whose GP is fitted to :func:`normal_scores` of the finished trials, and
    whose expected improvement is an observation's (the module docstring)."""
    import optuna
    from optuna.study import StudyDirection

    class RankGPSampler(optuna.samplers.GPSampler):
        # GPSampler.sample_relative hands the finished trials to _sample_relative_impl, and
        # the acquisition function to _optimize_acqf (Optuna 4.9 to 5.x); the GP reads the
        # trials' values there only.
        def _sample_relative_impl(
            self,
            study: optuna.Study,
            completed_trials: list[optuna.trial.FrozenTrial],
            *args: Any,
        ) -> dict[str, Any]:
            sign = -1.0 if study.direction == StudyDirection.MINIMIZE else 1.0
            values = [sign * float(t.value) for t in completed_trials]  # type: ignore[arg-type]
            scored = []
            for trial, score in zip(completed_trials, normal_scores(values), strict=True):
                twin = copy.copy(trial)
                twin.value = sign * score
                scored.append(twin)
            return super()._sample_relative_impl(study, scored, *args)

        def _optimize_acqf(self, acqf: Any, best_params: Any) -> Any:
            from optuna._gp.acqf import LogEI

            if isinstance(acqf, LogEI):  # one trial at a time: EI of an observation
                noise = float(acqf._gpr.noise_var)
                acqf._stabilizing_noise = max(acqf._stabilizing_noise, noise)
            return super()._optimize_acqf(acqf, best_params)

    hooks = ("_sample_relative_impl", "_optimize_acqf")
    if not all(hasattr(optuna.samplers.GPSampler, hook) for hook in hooks):
        log.warning(
            "This Optuna version's GPSampler lacks %s: the Bayesian strategy uses it as it "
            "is (raw objective values, the noise-free expected improvement).",
            " or ".join(hooks),
        )
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP_TRIALS)
    return RankGPSampler(seed=seed, n_startup_trials=STARTUP_TRIALS)


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
            return _rank_gp_sampler(self.seed)
        log.warning(
            "The Bayesian strategy uses Optuna's TPESampler instead of its Gaussian process "
            "(GPSampler), because PyTorch or SciPy is not installed. Install both "
            "(pip install torch scipy) for the Gaussian process."
        )
        self.sampler_name = "TPESampler"
        return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=STARTUP_TRIALS)
