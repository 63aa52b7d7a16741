"""tests/meta runs tiny networks: one CPU thread is fastest there, and fair to other jobs."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread_per_module():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
