"""One torch thread for the restoration tests: their convolutions are tiny, and on a busy 2-core
CPU a second thread made each step up to ~70× slower (measured), not faster."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
