"""One torch thread per test module: the tests run tiny networks, for which a second thread is
slower, not faster (on a busy 2-core CPU a restoration step was up to ~70× slower with two,
measured), and `make test` runs the unit tests beside nbval, one core each."""

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
