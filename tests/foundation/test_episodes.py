"""Episode sampler: shapes, labels, reproducibility and the errors that name the numbers."""

import pytest
import torch

from metagan_lab.data import ClassImages
from metagan_lab.tasks import EpisodeSampler, sample_episode, split_support_query


def fake_data(n_classes=12, n_samples=20, size=4):
    # every image is filled with a code for (class, sample) so we can read back what was drawn
    code = torch.arange(n_classes)[:, None] * 100 + torch.arange(n_samples)[None, :]
    images = code[:, :, None, None].expand(-1, -1, size, size).clone()
    return ClassImages(images.to(torch.int64), tuple(map(str, range(n_classes))))


def decode(x):
    code = x[..., 0, 0, 0].round().long()   # images are /255 floats of the code
    return code // 100, code % 100


def test_shapes_labels_and_class_major_order():
    data = fake_data()
    ep = sample_episode(data, 5, 2, 3, n_tasks=4,
                        generator=torch.Generator().manual_seed(0))
    assert ep.support_x.shape == (4, 10, 1, 4, 4) and ep.query_x.shape == (4, 15, 1, 4, 4)
    assert ep.support_y.tolist() == [[0, 0, 1, 1, 2, 2, 3, 3, 4, 4]] * 4
    assert ep.query_y[0].tolist() == [k for k in range(5) for _ in range(3)]


def test_labels_remap_distinct_classes_and_samples():
    data = fake_data()
    ep = sample_episode(data.images.double(), 5, 2, 3, n_tasks=8,
                        generator=torch.Generator().manual_seed(0))
    s_cls, s_idx = decode(ep.support_x * 255)
    q_cls, q_idx = decode(ep.query_x * 255)
    for t in range(8):
        classes = s_cls[t].view(5, 2)
        assert (classes == classes[:, :1]).all()                      # one class per label
        assert len(set(classes[:, 0].tolist())) == 5                   # N distinct classes
        assert (q_cls[t].view(5, 3) == classes[:, :1]).all()          # queries match labels
        for k in range(5):                                            # no sample used twice
            used = s_idx[t].view(5, 2)[k].tolist() + q_idx[t].view(5, 3)[k].tolist()
            assert len(set(used)) == 5


def test_reproducible_from_seed_and_different_across_seeds():
    data = fake_data()
    a = sample_episode(data, 5, 1, 2, 3, torch.Generator().manual_seed(7))
    b = sample_episode(data, 5, 1, 2, 3, torch.Generator().manual_seed(7))
    c = sample_episode(data, 5, 1, 2, 3, torch.Generator().manual_seed(8))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a.support_x, c.support_x)
    s1, s2 = EpisodeSampler(data, 5, 1, 2, 3, seed=4), EpisodeSampler(data, 5, 1, 2, 3, seed=4)
    assert torch.equal(next(s1).query_x, next(s2).query_x)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_way=13, k_shot=1, n_query=1), "n_way=13 is more than the 12 classes"),
    (dict(n_way=5, k_shot=15, n_query=6), "15 \\+ 6 = 21 is more than the 20 samples"),
    (dict(n_way=0, k_shot=1, n_query=1), "n_way must be a positive integer, got 0"),
    (dict(n_way=5, k_shot=-1, n_query=1), "k_shot must be a positive integer, got -1"),
    (dict(n_way=5, k_shot=1, n_query=0), "n_query must be a positive integer, got 0"),
])
def test_bad_values_name_the_numbers(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_episode(fake_data(), **kwargs)
    with pytest.raises(ValueError, match=message):
        EpisodeSampler(fake_data(), **kwargs)


def test_non_positive_task_count():
    with pytest.raises(ValueError, match="n_tasks must be a positive integer, got 0"):
        sample_episode(fake_data(), 2, 1, 1, n_tasks=0)


def test_split_support_query():
    x = torch.arange(2 * 3 * 4).view(2, 3, 4)                       # [T, N, K+Q]
    s, q = split_support_query(x, 1)
    assert s.tolist() == [[0, 4, 8], [12, 16, 20]]
    assert q[0].tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_samples_directly_on_the_gpu():
    data = fake_data().to("cuda")
    ep = sample_episode(data, 5, 1, 2, 3, torch.Generator(device="cuda").manual_seed(0))
    assert ep.support_x.is_cuda and ep.query_y.is_cuda
