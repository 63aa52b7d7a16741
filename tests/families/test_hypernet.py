"""Generated initial parameters (``blackbox.hypernet``) in float64: relabelling the classes
permutes the logit columns; with k = 0 the logits are W f(x̂) + b with (w_k, b_k) = h_ψ(c_k)
written out by hand; with k > 0 they match a hand-written SGD loop on the head using the
cross-entropy gradient (softmax − one-hot) zᵀ / S; a few Adam steps lower the query loss."""

import pytest
import torch
from torch import nn

from metagan_lab.blackbox.hypernet import (
    HyperNet,
    adapt_head,
    generated_head,
    head_images,
    head_steps,
    hypernet_logits,
    hypernet_loss,
)
from metagan_lab.types import Episode

N, K, Q, T = 3, 2, 2, 2


def episode(seed=0, n_way=N, k_shot=K, n_query=Q, n_tasks=T):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_tasks, n_way, k_shot + n_query, 1, 28, 28, generator=g, dtype=torch.float64)
    support_y = torch.arange(n_way).repeat_interleave(k_shot).expand(n_tasks, -1).contiguous()
    query_y = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1).contiguous()
    return Episode(x[:, :, :k_shot].flatten(1, 2), support_y, x[:, :, k_shot:].flatten(1, 2),
                   query_y)


def model(seed=0):
    torch.manual_seed(seed)
    m = HyperNet(hidden=4, hyper_hidden=6).double()
    for p in m.parameters():                   # larger weights: inner steps change the logits
        nn.init.normal_(p, std=0.5)
    return m.eval()                            # BatchNorm on running stats: one image at a time


def hand_head(m, support_x, support_y):
    """(w_k, b_k) = W2 relu(W1 c_k + b1) + b2, c_k the mean of f(x_i) over y_i = k, by loops."""
    w1, b1 = m.hyper[0].weight, m.hyper[0].bias
    w2, b2 = m.hyper[2].weight, m.hyper[2].bias
    weights, biases = [], []
    for x_t, y_t in zip(support_x, support_y):
        rows = []
        for k in range(N):
            c = torch.stack([m.encoder(x[None])[0] for x, y in zip(x_t, y_t) if y == k]).mean(0)
            rows.append(w2 @ torch.relu(w1 @ c + b1) + b2)
        rows = torch.stack(rows)                                          # [N, D+1]
        weights.append(rows[:, :-1])
        biases.append(rows[:, -1])
    return torch.stack(weights), torch.stack(biases)


def hand_sgd(z, y, weight, bias, lr, steps):
    """(W, b) ← (W, b) − α ∂L/∂(W, b), L = mean CE; ∂L/∂logits = (softmax − one-hot) / S."""
    onehot = torch.eye(weight.shape[0], dtype=z.dtype)[y]                 # [S, N]
    for _ in range(steps):
        logits = z @ weight.T + bias
        p = torch.exp(logits - logits.max(1, keepdim=True).values)
        delta = (p / p.sum(1, keepdim=True) - onehot) / z.shape[0]        # [S, N]
        weight, bias = weight - lr * delta.T @ z, bias - lr * delta.sum(0)
    return weight, bias


def test_zero_inner_steps_give_the_generated_head_formula():
    m, ep = model(), episode()
    with torch.no_grad():
        weight, bias = hand_head(m, ep.support_x, ep.support_y)
        expected = torch.stack([
            torch.stack([torch.stack([weight[t, k] @ m.encoder(x[None])[0] + bias[t, k]
                                      for k in range(N)]) for x in ep.query_x[t]])
            for t in range(T)])                                           # [T, N*Q, N]
        torch.testing.assert_close(hypernet_logits(m, ep), expected, rtol=1e-12, atol=1e-12)
        got_w, got_b = generated_head(m, ep.support_x, ep.support_y)
    torch.testing.assert_close(got_w, weight, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got_b, bias, rtol=1e-12, atol=1e-12)


def test_inner_steps_match_a_hand_written_sgd_loop():
    m, ep, inner = model(), episode(), head_steps(3, 0.5)
    weight0, bias0 = hand_head(m, ep.support_x, ep.support_y)
    expected_w, expected_b, expected_logits = [], [], []
    for t in range(T):
        z_s = torch.stack([m.encoder(x[None])[0] for x in ep.support_x[t]])
        z_q = torch.stack([m.encoder(x[None])[0] for x in ep.query_x[t]])
        w, b = hand_sgd(z_s.detach(), ep.support_y[t], weight0[t].detach(), bias0[t].detach(),
                        0.5, 3)
        expected_w.append(w)
        expected_b.append(b)
        expected_logits.append(z_q.detach() @ w.T + b)
    w, b = generated_head(m, ep.support_x, ep.support_y, inner)
    torch.testing.assert_close(w, torch.stack(expected_w), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(b, torch.stack(expected_b), rtol=1e-10, atol=1e-12)
    assert not torch.allclose(b, bias0)                                   # the steps did move it
    with torch.no_grad():                                                 # evaluation works too
        logits = hypernet_logits(m, ep, inner)
    torch.testing.assert_close(logits, torch.stack(expected_logits), rtol=1e-10, atol=1e-12)
    w0, b0 = generated_head(m, ep.support_x, ep.support_y)                # no steps
    torch.testing.assert_close(b0, bias0, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("inner_steps", [0, 2])
def test_relabelling_the_classes_permutes_the_logit_columns(inner_steps):
    m, ep, inner = model(), episode(seed=1), head_steps(inner_steps, 0.5)
    m.train()                                              # batch statistics: same images, too
    perm = torch.tensor([2, 0, 1])                         # class k is called perm[k]
    relabelled = Episode(ep.support_x, perm[ep.support_y], ep.query_x, perm[ep.query_y])
    logits = hypernet_logits(m, ep, inner)
    logits_relabelled = hypernet_logits(m, relabelled, inner)
    # column perm[k] of the relabelled logits is column k of the original ones
    torch.testing.assert_close(logits_relabelled[..., perm], logits, rtol=1e-12, atol=1e-12)
    loss, _ = hypernet_loss(m, ep, inner)
    loss_relabelled, _ = hypernet_loss(m, relabelled, inner)
    torch.testing.assert_close(loss_relabelled, loss, rtol=1e-12, atol=1e-12)


def test_first_order_inner_steps_pass_the_query_gradient_to_psi_and_phi():
    m = model().train()
    loss, _ = hypernet_loss(m, episode(), head_steps(2, 0.5))
    loss.backward()
    assert m.hyper[2].weight.grad.abs().sum() > 0
    assert m.encoder.encoder[0][0].weight.grad.abs().sum() > 0


def test_adapt_head_with_zero_steps_returns_the_head_unchanged():
    w, b = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    z, y = torch.randn(2, 6, 4, dtype=torch.float64), torch.tensor([[0, 0, 1, 1, 2, 2]] * 2)
    same_w, same_b = adapt_head(z, y, w, b, head_steps(0, 0.1))
    assert same_w is w and same_b is b


def test_a_few_adam_steps_lower_the_query_loss_of_a_fixed_episode():
    torch.manual_seed(0)
    m = HyperNet(hidden=4, hyper_hidden=8).double().train()
    ep, inner = episode(seed=2, n_tasks=1), head_steps(1, 0.1)
    first, _ = hypernet_loss(m, ep, inner)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(15):
        loss, _ = hypernet_loss(m, ep, inner)
        opt.zero_grad()
        loss.backward()
        opt.step()
    last, acc = hypernet_loss(m, ep, inner)
    assert last.item() < 0.8 * first.item()
    assert 0 <= acc.item() <= 1


def test_head_images_for_a_generated_head_and_a_maml_head():
    generated = torch.randn(T, N, 64)
    assert head_images(generated).shape == (T, N, 8, 8)
    assert head_images(torch.randn(5, 64)).shape == (5, 8, 8)     # MAML's head.weight [N, D]
    torch.testing.assert_close(head_images(generated)[1, 2, 3], generated[1, 2, 24:32])
    with pytest.raises(ValueError, match="square"):
        head_images(torch.randn(5, 10))


def test_the_hypernet_method_takes_its_steps_by_mode():
    from metagan_lab.blackbox.methods import (
        HyperNetConfig,
        build_hypernet,
        hypernet_method_logits,
    )

    cfg = HyperNetConfig(n_way=N, hidden=4, hyper_hidden=6, inner_steps=0, eval_inner_steps=2,
                         inner_lr=0.5)
    assert HyperNetConfig.STEPS_FIELD == "eval_inner_steps"
    m, ep = model(), episode()
    with torch.no_grad():
        torch.testing.assert_close(hypernet_method_logits(m, ep, cfg),
                                   hypernet_logits(m, ep, head_steps(2, 0.5)))
        m.train()
        torch.testing.assert_close(hypernet_method_logits(m, ep, cfg), hypernet_logits(m, ep))
    assert build_hypernet(cfg).hyper[0].in_features == 4
    with pytest.raises(ValueError, match="inner_steps"):
        HyperNetConfig(inner_steps=-1)


def test_train_hypernet_5_iterations_then_eval_with_more_steps(small_glyphs, tmp_path, capsys):
    import json

    from metagan_lab.cli import main

    tiny = ["--dataset", "glyphs", "--device", "cpu", "--hidden", "8", "--iterations", "5",
            "--ways", "3", "--queries", "2", "--val-tasks", "2", "--test-tasks", "4",
            "--eval-queries", "2", "--hyper-hidden", "8", "--threads", "1", "--quiet", "--json"]
    assert main(["train", "hypernet", *tiny, "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["algorithm"], result["family"]) == ("hypernet", "generated-init")
    assert main(["eval", str(tmp_path / "hypernet" / "checkpoint.pt"), "--dataset", "glyphs",
                 "--device", "cpu", "--episodes", "4", "--inner-steps", "3", "--json",
                 "--quiet"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["inner_steps"] == 3 and 0 <= evaluated["accuracy"] <= 1
