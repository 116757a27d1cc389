"""The run stage: plan the model x task grid, execute one job per model, store every outcome.

- :mod:`harness.run.plan`: planning, which reads (the registry, data, stored results, where weights are
  and, for a Hub model, its revision on the Hub) and writes nothing;
- :mod:`harness.run.jobs`: the job a worker gets and the result it sends back;
- :mod:`harness.run.execute`: one job (embed once, score every task) and the local executor;
- :mod:`harness.run.failures`: the one error classifier and error-record builder;
- :mod:`harness.run.facts`: versions, commit, hardware, timestamps, the fields every record shares;
- :mod:`harness.run.driver`: :func:`run` (plan, execute, store) and the summary;
- :mod:`harness.run.distributed`: the Ray executor (imports Ray lazily).
"""

from harness.run.driver import ModelOutcome, RunSummary, print_summary, run
from harness.run.execute import compute_job, execute_local
from harness.run.jobs import JobResult, ModelJob, Weights, task_id
from harness.run.plan import RunOptions, locate_weights, select_models, select_tasks, settings_for

__all__ = [
    "JobResult",
    "ModelJob",
    "ModelOutcome",
    "RunOptions",
    "RunSummary",
    "Weights",
    "compute_job",
    "execute_local",
    "locate_weights",
    "print_summary",
    "run",
    "select_models",
    "select_tasks",
    "settings_for",
    "task_id",
]
