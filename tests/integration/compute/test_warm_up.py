"""Warming Ray's worker processes: one per job slot, even when job slots outnumber CPUs (fractional job_cpus)."""

from __future__ import annotations

from trainforge.compute.tasks import warm_up_workers


def test_warm_up_gives_each_slot_a_process_of_its_own_even_beyond_the_cpus(local_ray):
    assert local_ray.cluster_resources()["CPU"] == 2
    # Without the barrier, the third task would reuse a process that finished its import: 2 pids, not 3.
    pids = warm_up_workers(3)
    assert len(pids) == 3
