"""GAN tests use tiny networks, for which one CPU thread is fastest (and fair to neighbours)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
