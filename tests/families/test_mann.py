"""Memory-based meta-learning (``blackbox.mann``): the offset-label sequence on a 2-way 2-shot toy
written out by hand, the shuffle and its undoing, instance accuracies counted by hand, and a few
Adam steps lowering the query loss of a fixed tiny episode."""

import pytest
import torch
import torch.nn.functional as F

from metagan_lab.blackbox.mann import (
    MANN,
    accuracy_by_instance,
    instance_index,
    label_sequence,
    mann_instance_accuracy,
    mann_logits,
    mann_loss,
    sequence_order,
)
from metagan_lab.types import Episode


def toy_episode(n_way=2, k_shot=2, n_query=1, n_tasks=1, side=2):
    """Item i of a task is an image filled with the number 10·task + i (support first, then
    queries); labels class-major as ``sample_episode`` gives them."""
    s, q = n_way * k_shot, n_way * n_query
    ids = (torch.arange(n_tasks)[:, None] * 10 + torch.arange(s + q)).double()    # [T, S+Q']
    images = ids[..., None, None, None].expand(-1, -1, 1, side, side).clone()
    support_y = torch.arange(n_way).repeat_interleave(k_shot).expand(n_tasks, -1).contiguous()
    query_y = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1).contiguous()
    return Episode(images[:, :s], support_y, images[:, s:], query_y)


def test_label_sequence_2way_2shot_by_hand_offset_labels():
    ep = toy_episode()                    # support ids 0..3 (y 0, 0, 1, 1), queries 4, 5
    seq = label_sequence(ep.support_x, ep.support_y, ep.query_x, n_way=2)
    # position t: the image of item t (4 pixels), then the one-hot label of item t−1
    expected = torch.tensor([[0, 0, 0, 0, 0, 0],         # first item: no label yet
                             [1, 1, 1, 1, 1, 0],         # y_0 = 0
                             [2, 2, 2, 2, 1, 0],         # y_1 = 0
                             [3, 3, 3, 3, 0, 1],         # y_2 = 1
                             [4, 4, 4, 4, 0, 1],         # every query follows the support:
                             [5, 5, 5, 5, 0, 1]], dtype=torch.float64)   # y_3 = 1
    assert seq.inputs.shape == (1, 6, 4 + 2)
    torch.testing.assert_close(seq.inputs[0], expected, rtol=0, atol=0)
    assert seq.order.tolist() == [[0, 1, 2, 3, 4, 5]]


def test_label_sequence_2way_2shot_by_hand_same_step_labels():
    ep = toy_episode()                    # support ids 0..3 (y 0, 0, 1, 1), queries 4, 5
    seq = label_sequence(ep.support_x, ep.support_y, ep.query_x, n_way=2, labels="same-step")
    # position t: the image of item t, then item t's own label; queries carry no label
    expected = torch.tensor([[0, 0, 0, 0, 1, 0],         # y_0 = 0
                             [1, 1, 1, 1, 1, 0],         # y_1 = 0
                             [2, 2, 2, 2, 0, 1],         # y_2 = 1
                             [3, 3, 3, 3, 0, 1],         # y_3 = 1
                             [4, 4, 4, 4, 0, 0],         # queries: zeros
                             [5, 5, 5, 5, 0, 0]], dtype=torch.float64)
    torch.testing.assert_close(seq.inputs[0], expected, rtol=0, atol=0)
    shuffled = label_sequence(ep.support_x, ep.support_y, ep.query_x, 2,
                              torch.Generator().manual_seed(3), labels="same-step")
    items = torch.cat([ep.support_y, ep.query_y], 1)[0]
    for p, item in enumerate(shuffled.order[0, :4].tolist()):        # labels stay with images
        assert torch.equal(shuffled.inputs[0, p, 4:], F.one_hot(items[item], 2).double())
    with pytest.raises(ValueError, match="labels='next'.*offset.*same-step"):
        label_sequence(ep.support_x, ep.support_y, ep.query_x, 2, labels="next")
    with pytest.raises(ValueError, match="labels='next'"):
        MANN(2, labels="next")


def test_a_same_step_model_reads_same_step_sequences():
    """``mann_logits`` builds the sequence with the model's own convention (reference: the
    model called by hand on ``label_sequence(…, labels='same-step')``)."""
    torch.manual_seed(0)
    model = MANN(2, image_shape=(1, 2, 2), hidden=5, labels="same-step").double()
    ep = toy_episode(n_way=2, k_shot=2, n_query=1, n_tasks=2)
    seq = label_sequence(ep.support_x, ep.support_y, ep.query_x, 2,
                         torch.Generator().manual_seed(1), labels="same-step")
    by_hand = model(seq.inputs, 4)[:, 4:]
    got = mann_logits(model, ep, torch.Generator().manual_seed(1))
    torch.testing.assert_close(got, by_hand, rtol=0, atol=0)


def test_shuffled_order_is_the_generators_and_labels_travel_with_their_images():
    ep = toy_episode(n_way=3, k_shot=2, n_query=2, n_tasks=4)
    s, q = 6, 6
    seq = label_sequence(ep.support_x, ep.support_y, ep.query_x, 3,
                         torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)                  # the same draws, written out again
    support = torch.rand(4, s, generator=g).argsort(1)
    query = torch.arange(s, s + q).expand(4, -1)                          # queries in order
    assert torch.equal(seq.order, torch.cat([support, query], 1))
    assert all(sorted(row[:s]) == list(range(s)) for row in seq.order.tolist())
    items = torch.cat([ep.support_y, ep.query_y], 1)
    for t in range(4):
        for p in range(s + q):
            item = int(seq.order[t, p])
            assert seq.inputs[t, p, 0] == 10 * t + item                   # the image of item
            shown = seq.inputs[t, p, 4:]
            if p == 0:
                assert not shown.any()
            else:                                 # y of the previous item, the last support one
                prev = int(seq.order[t, min(p, s) - 1])                   # for every query
                assert torch.equal(shown, F.one_hot(items[t, prev], 3).double())
    again = label_sequence(ep.support_x, ep.support_y, ep.query_x, 3,
                           torch.Generator().manual_seed(7))
    assert torch.equal(again.inputs, seq.inputs)                          # deterministic
    assert not torch.equal(seq.order[0], seq.order[1])                    # per task


def test_each_query_is_read_on_its_own_after_the_support():
    """Row i of mann_logits equals reading the support and then query i alone (same support
    order): queries neither see each other nor depend on how many there are."""
    torch.manual_seed(0)
    model = MANN(2, image_shape=(1, 2, 2), hidden=5).double()
    ep = toy_episode(n_way=2, k_shot=3, n_query=2, n_tasks=3)
    logits = mann_logits(model, ep, torch.Generator().manual_seed(4))    # [T, 4, 2]
    assert logits.shape == (3, 4, 2)
    for i in range(4):
        alone = Episode(ep.support_x, ep.support_y, ep.query_x[:, i:i + 1],
                        ep.query_y[:, i:i + 1])
        one = mann_logits(model, alone, torch.Generator().manual_seed(4))
        torch.testing.assert_close(one[:, 0], logits[:, i], rtol=1e-12, atol=1e-12)


def test_sequence_order_without_generator_is_the_episode_order():
    assert sequence_order(2, 3, 2).tolist() == [[0, 1, 2, 3, 4]] * 2


def test_instance_index_and_accuracy_by_instance_by_hand():
    labels = torch.tensor([[0, 1, 0, 1, 1, 0]])
    assert instance_index(labels).tolist() == [[1, 1, 2, 2, 3, 3]]
    predicted = torch.tensor([[1, 1, 0, 0, 1, 0]])                        # right: -, y, y, -, y, y
    logits = F.one_hot(predicted, 2).double()
    # 1st instances: positions 0, 1 → 1/2; 2nd: 2, 3 → 1/2; 3rd: 4, 5 → 2/2
    expected = torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(accuracy_by_instance(logits, labels), expected, rtol=0, atol=0)
    # support 0,0,1,1 (labelled), queries 0,1 (never shown): queries are 3rd instances
    labels = torch.tensor([[0, 0, 1, 1, 0, 1], [1, 0, 0, 1, 1, 0]])
    assert instance_index(labels, n_labelled=4).tolist() == [[1, 2, 1, 2, 3, 3],
                                                             [1, 1, 2, 2, 3, 3]]
    predicted = torch.tensor([[1, 0, 1, 1, 0, 0], [1, 1, 0, 1, 1, 0]])
    # task 0 right at positions 1, 2, 3, 4; task 1 right at 0, 2, 3, 4, 5
    # k=1: (pos 0 n, 2 y | 0 y, 1 n) → 2/4; k=2: (1 y, 3 y | 2 y, 3 y) → 4/4;
    # k=3: (4 y, 5 n | 4 y, 5 y) → 3/4
    got = accuracy_by_instance(F.one_hot(predicted, 2).double(), labels, n_labelled=4)
    expected = torch.tensor([0.5, 1.0, 0.75], dtype=torch.float64)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="must be"):
        accuracy_by_instance(logits[0], labels[0])


def fixed_episode(n_way=2, k_shot=2, n_query=2, n_tasks=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_tasks, n_way, k_shot + n_query, 1, 28, 28, generator=g,
                   dtype=torch.float64)
    support_x = x[:, :, :k_shot].flatten(1, 2)
    query_x = x[:, :, k_shot:].flatten(1, 2)
    support_y = torch.arange(n_way).repeat_interleave(k_shot).expand(n_tasks, -1).contiguous()
    query_y = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1).contiguous()
    return Episode(support_x, support_y, query_x, query_y)


@pytest.mark.parametrize("encoder", ["flat", "conv4"])
def test_a_few_adam_steps_lower_the_query_loss_of_a_fixed_episode(encoder):
    torch.manual_seed(0)
    model = MANN(2, hidden=16, encoder=encoder, conv_hidden=8).double()
    ep = fixed_episode()
    first, _ = mann_loss(model, ep, torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(15):
        loss, _ = mann_loss(model, ep)
        opt.zero_grad()
        loss.backward()
        opt.step()
    last, acc = mann_loss(model, ep, torch.Generator().manual_seed(1))
    assert last.item() < 0.8 * first.item()
    assert 0 <= acc.item() <= 1
    per_instance = mann_instance_accuracy(model, ep)                      # K = 2: k = 1, 2, 3
    assert per_instance.shape == (3,)


def test_mann_refuses_inputs_not_built_by_label_sequence():
    model = MANN(3, hidden=8)
    with pytest.raises(ValueError, match="label_sequence"):
        model(torch.zeros(1, 4, 784), 2)
    with pytest.raises(ValueError, match="encoder"):
        MANN(3, encoder="transformer")


def test_the_mann_method_config_build_and_logits():
    from metagan_lab.blackbox.methods import MANNConfig, build_mann, mann_method_logits

    cfg = MANNConfig(n_way=2, lstm_hidden=6, encoder="conv4", hidden=4)
    assert (cfg.layers, MANNConfig().lstm_hidden, MANNConfig().encoder) == (2, 128, "flat")
    model = build_mann(cfg).double()
    ep = fixed_episode(n_way=2, k_shot=1, n_query=3, n_tasks=2)
    assert mann_method_logits(model, ep, cfg).shape == (2, 6, 2)
    with pytest.raises(ValueError, match="cannot test 3-way"):
        mann_method_logits(model, ep, MANNConfig(n_way=3))
    with pytest.raises(ValueError, match="encoder"):
        MANNConfig(encoder="rnn")


def test_importing_the_blackbox_package_first_works():
    """blackbox uses fewshot and metagan_lab.methods lists both: a fresh interpreter that
    imports metagan_lab.blackbox.mann first (then the registry) must not meet a half-made
    module."""
    import subprocess
    import sys

    code = ("import metagan_lab.blackbox.mann as m, metagan_lab.methods as f; "
            "print(m.MANN, f.METHODS['mann'].family)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "black-box" in done.stdout


def test_train_mann_5_iterations_then_eval_and_sample(small_glyphs, tmp_path, capsys):
    import json

    from metagan_lab import runs
    from metagan_lab.cli import main

    tiny = ["--dataset", "glyphs", "--device", "cpu", "--iterations", "5", "--ways", "3",
            "--queries", "2", "--val-tasks", "2", "--test-tasks", "4", "--eval-queries", "2",
            "--lstm-hidden", "8", "--threads", "1", "--quiet", "--json"]
    assert main(["train", "mann", *tiny, "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["algorithm"], result["family"], result["iterations"]) == ("mann", "black-box", 5)
    checkpoint = str(tmp_path / "mann" / "checkpoint.pt")
    assert main(["eval", checkpoint, "--dataset", "glyphs", "--device", "cpu", "--episodes", "4",
                 "--json", "--quiet"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out.strip().splitlines()[-1])["accuracy"] <= 1
    assert main(["sample", checkpoint, "--dataset", "glyphs", "--device", "cpu", "--n", "2",
                 "--out", str(tmp_path / "sample.png")]) == 0
    assert (tmp_path / "sample.png").stat().st_size > 0
    with pytest.raises(SystemExit):                       # built for 3 ways: one-line refusal
        main(["eval", checkpoint, "--dataset", "glyphs", "--device", "cpu", "--ways", "5"])
    assert "cannot test 5-way" in capsys.readouterr().err
    assert main(["train", "mann", *tiny, "--labels", "same-step", "--out",
                 str(tmp_path / "same")]) == 0
    saved = torch.load(tmp_path / "same" / "mann" / "checkpoint.pt", weights_only=True)
    assert saved["config"]["labels"] == "same-step"
    learner = runs.build_model(str(tmp_path / "same" / "mann" / "checkpoint.pt"))
    assert learner.model.labels == "same-step"          # eval and sample read it that way
