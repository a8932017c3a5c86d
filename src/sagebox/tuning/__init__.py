"""Hyperparameter tuning: SageMaker's automatic model tuning, run for real.

The pure parts (no I/O) decide what to try and when to stop:
- ``ranges``: ``ParameterRanges`` (continuous, integer, categorical; scaling types) parsed
  and validated into :class:`ParameterRange` values;
- ``strategies``: one :class:`Strategy` per ``Strategy`` name (Bayesian, Random, Grid,
  Hyperband) on Optuna, behind one lazy registry;
- ``early_stopping``: SageMaker's median rule;
- ``warm_start``: the documented constraints of ``WarmStartConfig``, and the parents'
  evaluated trials that seed a new search;
- ``completion``: ``TuningJobCompletionCriteria``.
The ``tuner`` process drives them: it launches every trial as a real training job,
streams the objective metric to the strategy while the trial runs, stops trials, and
records the tuning job's state (``sagebox.control.tuning`` is its API).
"""
