"""Ten true/false statements on attention, Transformers, BERT/GPT, clipping, embeddings, LSTMs.

The assignments' own wording of the statements is not in this project, so each is written here
in seqlab's words on the topic the assignment names (docs/theory.md says so). Each function
computes the evidence with seqlab's own layers where it has them and returns a
`seqlab.theory.Check` whose claim starts with the verdict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from seqlab.nn import (
    LSTM,
    LSTMCell,
    MultiHeadAttention,
    RNNCell,
    TransformerEncoder,
    padding_mask,
    positional_encoding,
)
from seqlab.theory import Check, _fit, order_notes, seeded


def clipping_and_vanishing(seed: int = 0) -> Check:
    """ "Gradient clipping solves the vanishing-gradient problem of RNNs." FALSE."""
    with seeded(seed):
        cell = RNNCell(4, 16)
        x = torch.randn(1, 60, 4, requires_grad=True)  # (B, T, C)
        h = torch.zeros(1, 16)
        for t in range(60):
            h = cell(x[:, t], h)
    h.sum().backward()
    early, late = x.grad[0, 0].norm().item(), x.grad[0, -1].norm().item()
    before = x.grad.clone()
    total = torch.nn.utils.clip_grad_norm_([x], max_norm=0.1).item()  # clips: total > 0.1
    after = x.grad
    early_after = after[0, 0].norm().item()
    scale = (after.norm() / before.norm()).item()
    return Check(
        "FALSE: clipping rescales the whole gradient when its norm is above the threshold; the "
        "vanished early-step gradient is scaled by the same factor (never up), so it stays "
        "vanished relative to the late steps",
        {"grad_norm_step_0": early, "grad_norm_step_59": late, "total_norm": total}
        | {"grad_norm_step_0_clipped": early_after, "clip_scale": scale},
        early / late < 1e-4 and early_after <= early and abs(early_after / early - scale) < 1e-6,
    )


def embeddings_sign(seed: int = 0, steps: int = 200) -> Check:
    """ "Trained word embeddings have only non-negative entries." FALSE."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 50, (512, 6), generator=g)
    y = ((ids < 25).float().mean(1) > 0.5).float()  # "positive" words are ids 0-24
    with seeded(seed):
        bag, out = nn.EmbeddingBag(50, 8, mode="mean"), nn.Linear(8, 1)
        nn.init.uniform_(bag.weight, 0.0, 0.1)  # start non-negative: any negative is learned
    model = nn.Sequential(bag, out, nn.Flatten(0))
    _fit(model, lambda: F.binary_cross_entropy_with_logits(model(ids), y), steps, 0.05)
    w = bag.weight.detach()
    with torch.no_grad():
        acc = ((model(ids) > 0).float() == y).float().mean().item()
    negative = (w < 0).float().mean().item()
    return Check(
        "FALSE: an embedding is a free real-valued parameter; started non-negative, training "
        "still moves entries below zero",
        {"negative_share_after_training": negative, "min_entry": w.min().item(), "acc": acc},
        negative > 0.1 and acc > 0.9,
    )


def lstm_gates(seed: int = 0, steps: int = 200) -> Check:
    """ "In an LSTM the input and forget gates sum to one (i_t = 1 - f_t)." FALSE."""
    x, y = order_notes(512, 6, 8, seed)
    with seeded(seed):
        lstm, out = LSTM(8, 16, backend="fused"), nn.Linear(16, 1)
    model = nn.ModuleList([lstm, out])
    _fit(
        model,
        lambda: F.binary_cross_entropy_with_logits(out(lstm(x)[0][:, -1])[:, 0], y),
        steps,
        1e-2,
    )
    cell: LSTMCell = lstm.cells[0]
    h = c = torch.zeros(x.size(0), 16)
    sums, worst = [], 0.0
    with torch.no_grad():
        for t in range(x.size(1)):  # the gates of the cell's equations, step by step
            z = F.linear(x[:, t], cell.U, cell.b) + F.linear(h, cell.W)
            zi, zf, zg, zo = z.chunk(4, dim=1)
            i, f = torch.sigmoid(zi), torch.sigmoid(zf)
            c_gates = f * c + i * torch.tanh(zg)
            h, c = cell(x[:, t], (h, c))
            worst = max(worst, (c_gates - c).abs().max().item())  # they are the cell's gates
            sums.append(i + f)
    s = torch.stack(sums)
    off = (s - 1).abs()
    return Check(
        "FALSE: i and f are two sigmoids of separate weights; the LSTM can keep all of its "
        "cell and write more (i + f > 1) or erase it (i + f < 1). The GRU couples them (z, 1 - z)",
        {
            "mean_abs_i_plus_f_minus_1": off.mean().item(),
            "share_off_by_more_than_0.1": (off > 0.1).float().mean().item(),
            "min_i_plus_f": s.min().item(),
            "max_i_plus_f": s.max().item(),
            "gate_recomputation_error": worst,
        },
        (off > 0.1).float().mean().item() > 0.3 and worst < 1e-5,
    )


def _tiny_bert():
    from transformers import BertConfig, BertForPreTraining

    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.2,  # larger than BERT's 0.02, so a random model's outputs differ
    )
    return BertForPreTraining(config).eval()


def bert_objectives(seed: int = 0) -> Check:
    """ "BERT is pre-trained with masked LM and next-sentence prediction." TRUE."""
    with seeded(seed):
        bert = _tiny_bert()  # Devlin et al. (2019) §3.1, as transformers implements it
    ids = torch.randint(5, 50, (2, 10), generator=torch.Generator().manual_seed(seed))
    mlm_labels = torch.full_like(ids, -100)
    mlm_labels[:, [2, 6]] = ids[:, [2, 6]]  # the masked positions' original tokens
    masked = ids.clone()
    masked[:, [2, 6]] = 4  # a [MASK] id
    nsp = torch.tensor([0, 1])  # 0 = B follows A, 1 = B is a random sentence
    with torch.no_grad():
        out = bert(input_ids=masked, labels=mlm_labels, next_sentence_label=nsp)
    mlm = F.cross_entropy(out.prediction_logits.reshape(-1, 50), mlm_labels.reshape(-1))
    nsp_loss = F.cross_entropy(out.seq_relationship_logits, nsp)
    return Check(
        "TRUE: BERT's pre-training loss is the masked-LM cross-entropy (a vocabulary "
        "distribution at each masked position) plus the 2-way next-sentence cross-entropy",
        {
            "mlm_scores_per_position": out.prediction_logits.size(-1),
            "nsp_classes": out.seq_relationship_logits.size(-1),
            "loss_minus_mlm_minus_nsp": (out.loss - mlm - nsp_loss).abs().item(),
        },
        out.seq_relationship_logits.shape == (2, 2) and (out.loss - mlm - nsp_loss).abs() < 1e-5,
    )


def bert_is_bidirectional(seed: int = 0) -> Check:
    """ "BERT is a left-to-right language model (each token predicted from the left)." FALSE."""
    with seeded(seed):
        bert = _tiny_bert()
    ids = torch.randint(5, 50, (1, 10), generator=torch.Generator().manual_seed(seed))
    later = ids.clone()
    later[0, -1] = (ids[0, -1] + 1 - 5) % 45 + 5  # change the last token only
    with torch.no_grad():
        a, b = (bert(input_ids=t).prediction_logits for t in (ids, later))
    change = (a[0, :-1] - b[0, :-1]).abs().max().item()
    return Check(
        "FALSE: BERT's masked LM sees both sides (no causal mask): changing the last token "
        "changes the predictions at every earlier position",
        {"max_change_at_earlier_positions": change},
        change > 1e-4,
    )


def attention_sums_to_one(seed: int = 0) -> Check:
    """ "Attention weights are non-negative and sum to one over the keys." TRUE."""
    with seeded(seed):
        mha = MultiHeadAttention(16, 4, backend="scratch")
        x = torch.randn(3, 7, 16)
    key_mask = padding_mask(torch.tensor([7, 5, 2]), 7)  # (B, S), True at real keys
    with torch.no_grad():
        weights = mha(x, key_mask=key_mask)[1]  # (B, H, T, S)
    err = (weights.sum(-1) - 1).abs().max().item()
    masked = weights.masked_select(~key_mask[:, None, None, :].expand_as(weights))
    return Check(
        "TRUE: each query's weights are a softmax over the keys: non-negative, summing to one; "
        "padded keys get zero",
        {"max_abs_sum_minus_1": err, "min_weight": weights.min().item()}
        | {"max_weight_on_padding": masked.max().item()},
        err < 1e-6 and weights.min() >= 0 and masked.max() == 0,
    )


def _encoder(seed: int) -> TransformerEncoder:
    with seeded(seed):
        return TransformerEncoder(16, 2, 32, num_layers=2, dropout=0.0).eval()


def no_positions_no_order(seed: int = 0) -> Check:
    """ "A Transformer encoder without positional encodings sees word order." FALSE."""
    enc = _encoder(seed)
    with seeded(seed):
        x, perm = torch.randn(1, 7, 16), torch.randperm(7)
    pe = positional_encoding("sinusoidal", 16, 32, 0.0)
    with torch.no_grad():
        plain = (enc(x[:, perm]) - enc(x)[:, perm]).abs().max().item()
        with_pe = (enc(pe(x[:, perm])) - enc(pe(x))[:, perm]).abs().max().item()
    return Check(
        "FALSE: without positional encodings self-attention is permutation-equivariant: "
        "permuting the words permutes the outputs the same way (and leaves a pooled vector "
        "unchanged); with sinusoidal encodings it is not",
        {"equivariance_error_no_pe": plain, "equivariance_error_with_pe": with_pe},
        plain < 1e-5 and with_pe > 1e-2,
    )


def gpt_is_causal(seed: int = 0) -> Check:
    """ "GPT is a decoder-only Transformer trained as a causal LM." TRUE."""
    enc = _encoder(seed)  # self-attention layers only, run with the causal mask
    with seeded(seed):
        x = torch.randn(1, 8, 16)
    later = x.clone()
    later[0, 5] += 1.0  # change token 5
    with torch.no_grad():
        a, b = enc(x, causal=True), enc(later, causal=True)
    before, after = (a - b)[0, :5].abs().max().item(), (a - b)[0, 5:].abs().max().item()
    return Check(
        "TRUE: GPT stacks masked self-attention layers only (no encoder, no cross-attention) "
        "and predicts each token from the ones before it: with the causal mask, changing "
        "token 5 leaves the outputs at 0-4 unchanged",
        {"max_change_before_token_5": before, "max_change_from_token_5": after},
        before == 0.0 and after > 1e-3,
    )


def attention_cost(seed: int = 0) -> Check:
    """ "The cost of self-attention grows linearly with the sequence length." FALSE."""
    with seeded(seed):
        mha = MultiHeadAttention(8, 2, backend="scratch")
    flops, entries = [], []
    for T in (256, 512):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            weights = mha(torch.randn(1, T, 8))[1]
        flops.append(counter.get_total_flops())
        entries.append(weights.numel())
    return Check(
        "FALSE: every query scores every key, T² scores per head: doubling T quadruples the "
        "attention matrix and (for T ≫ d) nearly quadruples the work",
        {"flops_ratio_2T_over_T": flops[1] / flops[0], "weights_ratio": entries[1] / entries[0]},
        flops[1] / flops[0] > 3.5 and entries[1] == 4 * entries[0],
    )


def lstm_cell_keeps_gradient(seed: int = 0, steps: int = 100) -> Check:
    """ "The LSTM cell lets gradients flow through time with forget gates near one." TRUE."""
    with seeded(seed):
        lstm, rnn = LSTMCell(4, 16), RNNCell(4, 16)
        x = torch.randn(1, steps, 4)
    with torch.no_grad():
        lstm.b[16:32] = 6.0  # forget gate (rows H..2H) near one, as Jozefowicz et al. (2015)
    c0, h0 = torch.zeros(1, 16, requires_grad=True), torch.full((1, 16), 0.1, requires_grad=True)
    h, c = torch.zeros(1, 16), c0
    r = h0
    for t in range(steps):  # the whole recurrences, h and c
        h, c = lstm(x[:, t], (h, c))
        r = rnn(x[:, t], r)
    per_unit = 16**-0.5  # ‖∂ sum(s_T) / ∂ s_0‖ / √H
    lstm_grad = torch.autograd.grad(c.sum(), c0)[0].norm().item() * per_unit
    rnn_grad = torch.autograd.grad(r.sum(), h0)[0].norm().item() * per_unit
    return Check(
        "TRUE: c_t = f_t c_(t-1) + i_t g_t, so the cell's own path contributes the product of "
        "the forget gates to ∂c_T/∂c_0, no squashing and no weight matrix: with forget gates "
        "near one it stays of order one over 100 steps, while a tanh RNN's ∂h_T/∂h_0 vanishes",
        {"lstm_dcT_dc0": lstm_grad, "tanh_rnn_dhT_dh0": rnn_grad},
        lstm_grad > 0.5 and rnn_grad < 1e-4,
    )


STATEMENTS = (
    clipping_and_vanishing,
    embeddings_sign,
    lstm_gates,
    bert_objectives,
    bert_is_bidirectional,
    attention_sums_to_one,
    no_positions_no_order,
    gpt_is_causal,
    attention_cost,
    lstm_cell_keeps_gradient,
)
