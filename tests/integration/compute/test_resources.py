"""CPU seconds and peak memory of a job's Ray work: measured inside the Ray task, stored with the job's metrics."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from trainforge.compute import resources
from trainforge.compute.resources import measure_resources
from trainforge.jobs.status import JobStatus
from trainforge.pipeline.config import TrainingConfig
from trainforge.submission import JobRequest, submit_job


def burn_cpu(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        sum(range(1000))


@pytest.fixture(params=["kernel", "sampled"])
def peak_source(request, monkeypatch) -> str:
    """Each test runs with the kernel's peak (Linux) and with the sampling thread that stands in elsewhere."""
    if request.param == "sampled":
        monkeypatch.setattr(resources._KernelPeak, "start", classmethod(lambda cls: None))
    elif sys.platform != "linux":
        pytest.fail("the kernel's peak (VmHWM) is Linux's; run this test on Linux")
    return request.param


def test_measures_cpu_time_and_the_peak_of_a_short_lived_allocation(peak_source):
    with measure_resources(sample_seconds=0.01) as baseline:
        pass
    with measure_resources(sample_seconds=0.01) as usage:
        block = b"\x01" * (200 * 2**20)  # written, so resident (calloc'd zeros would not be)
        if peak_source == "sampled":
            time.sleep(0.1)  # let the sampler see it; the kernel sees every page as it is touched
        del block
        burn_cpu(0.3)
    assert usage.cpu_seconds >= 0.25
    assert usage.peak_memory_mb >= baseline.peak_memory_mb + 150  # freed before the end, yet its peak counts
    assert usage.as_metrics() == {
        "cpu_seconds": round(usage.cpu_seconds, 3),
        "peak_memory_mb": round(usage.peak_memory_mb, 1),
    }
    assert not any(t.name == "trainforge-resource-sampler" for t in threading.enumerate())


def test_a_later_measurement_does_not_inherit_an_earlier_peak(peak_source):
    with measure_resources(sample_seconds=0.01) as big:
        block = b"\x01" * (200 * 2**20)
        time.sleep(0.05)
        del block
    with measure_resources(sample_seconds=0.01) as small:
        pass
    assert small.peak_memory_mb < big.peak_memory_mb - 150  # the process's lifetime peak is not the work's


def test_on_linux_no_thread_samples_the_memory():
    if sys.platform != "linux":
        pytest.fail("the kernel's peak (VmHWM) is Linux's; run this test on Linux")
    with measure_resources(sample_seconds=0.01):
        assert not any(t.name == "trainforge-resource-sampler" for t in threading.enumerate())


def test_the_sampler_stops_when_the_work_raises(peak_source):
    with pytest.raises(RuntimeError), measure_resources(sample_seconds=0.01):
        raise RuntimeError("the pipeline failed")
    assert not any(t.name == "trainforge-resource-sampler" for t in threading.enumerate())


def test_a_real_job_stores_the_cpu_and_memory_of_its_ray_work(make_worker):
    made = make_worker(worker_id="resource-test")
    store, features, worker = made.store, made.features, made.worker
    request = JobRequest(
        tenant_id="t1",
        model_type="forecast",
        model_name="site_load",
        feature_set="site_load",
        config=TrainingConfig(target_variable="load_kw", horizon=24, hyperparams={"n_estimators": 60}),
    )
    job = submit_job(request, store=store, features=features)
    assert worker.run_next().status is JobStatus.COMPLETED, store.logs(job.job_id)[0]

    assert any("Ray work used" in line.message for line in store.logs(job.job_id)[0])
    done = store.get(job.job_id)
    assert done.metrics["mae"] > 0
    assert done.metrics["cpu_seconds"] > 0  # beside the model's metrics
    assert done.metrics["peak_memory_mb"] > 50  # a Python process with pandas and LightGBM loaded, at least
