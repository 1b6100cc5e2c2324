"""Submission: a request checked against what exists, then queued as a job of one kind, in one place.

The API, the CLI's demo and schedules all come through here: :func:`submit_job` (``POST /jobs/start``),
:func:`submit_study` (``POST /optimize/start``), and :func:`prepare_job` with :func:`enqueue_job_in` (a schedule's
firing, inside its own transaction). A ``tune`` job's study is created in the transaction that queues it.
"""

from trainforge.submission._job_request import JobRequest
from trainforge.submission._jobs import enqueue_job_in, prepare_job, submit_job
from trainforge.submission._optimize import submit_study
from trainforge.submission._studies import default_study_name, enqueue_with_study, enqueue_with_study_in
from trainforge.submission._study_request import OptimizeRequest

__all__ = [
    "JobRequest",
    "OptimizeRequest",
    "default_study_name",
    "enqueue_job_in",
    "enqueue_with_study",
    "enqueue_with_study_in",
    "prepare_job",
    "submit_job",
    "submit_study",
]
