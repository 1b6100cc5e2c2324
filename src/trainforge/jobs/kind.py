"""What a job does: a registered *kind* (``train``, ``tune``; ``backtest``, ``detect``, ``retrain`` later).

The worker knows how to claim a job, renew its lease, record its progress and end it; what the job computes is
its kind's. A kind is one module (under :mod:`trainforge.kinds`) that declares:

- how it reads the job's stored request into its state (:meth:`JobKind.start`),
- its steps, in order (:class:`Step`: a name and a function of the run and the state),
- what the job's completion records (:meth:`JobKind.complete`: reason, model id, metrics), and
- what to undo when the completion is refused because the job ended otherwise meanwhile (:meth:`JobKind.abandon`).

A new kind is a new module and a new entry in the mapping the worker is given; the worker has no ``if`` per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from trainforge.errors import IllegalTransition

if TYPE_CHECKING:
    from trainforge.jobs.run import JobRun

__all__ = ["Completion", "JobKind", "Step"]

State = TypeVar("State")


@dataclass(frozen=True)
class Step(Generic[State]):
    """One step of a kind: ``run(job_run, state)`` does the work and leaves its output in ``state``.

    Hooks see each step begin and end by its ``name`` (:class:`~trainforge.jobs.hooks.JobHook`).
    """

    name: str
    run: Callable[[JobRun, State], None]


@dataclass(frozen=True)
class Completion:
    """How a job that ran every step is recorded as completed.

    Attributes:
        reason: The completion event's reason (``"trained and registered acme:load:1.0.0"``).
        model_id: The registered model version, if the job made one.
        metrics: The job's final metrics, merged over the live ones its run reported.
    """

    reason: str
    model_id: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)


class JobKind(Protocol[State]):
    """What a kind declares (see the module docstring)."""

    name: str
    steps: Sequence[Step[State]]

    def start(self, run: JobRun) -> State:
        """Read the claimed job's request into the state the steps share.

        Raises:
            InvalidInput: the stored request no longer validates (the job fails with the reason).
        """
        ...

    def complete(self, run: JobRun, state: State) -> Completion:
        """What the completed job records, once every step has run."""
        ...

    def abandon(self, run: JobRun, state: State, lost: IllegalTransition) -> None:
        """The job ended otherwise (``lost.current``) while its last step ran: undo what must not outlive it."""
        ...
