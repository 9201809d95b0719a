"""Seq2Seq and TransformerTranslator: cached = full decoding, greedy and beam search (against
exhaustive search), padding, overfitting, bad input."""

import dataclasses
import itertools

import pytest
import torch
import torch.nn.functional as F

from seqlab.decoding import ban, beam_search, greedy_decode, length_penalty
from seqlab.models import (
    CompactTranslator,
    CompactTranslatorConfig,
    Seq2Seq,
    Seq2SeqConfig,
    TransformerTranslator,
    TransformerTranslatorConfig,
    model_from_config,
)

SCORES = [None, "dot", "general", "additive", "cosine"]


def rnn_model(cell: str = "gru", attention: str | None = "general", **kw) -> Seq2Seq:
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(30, 40, cell=cell, embed_dim=8, hidden_size=16, attention=attention, **kw)
    return Seq2Seq(cfg)


def transformer(mode: str = "standard", **kw):
    torch.manual_seed(0)
    if mode == "compact":
        cfg = CompactTranslatorConfig(
            30,
            40,
            embed_dim=16,
            num_heads=2,
            hidden_size=32,
            num_layers=1,
            dropout=0.0,
            max_length=32,
            **kw,
        )
        return CompactTranslator(cfg)
    cfg = TransformerTranslatorConfig(
        30, 40, embed_dim=16, num_heads=2, hidden_size=32, num_layers=1,
        decoder_layers=1, dropout=0.0, max_length=32, **kw,
    )  # fmt: skip
    return TransformerTranslator(cfg)


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src_lengths = torch.tensor([6, 3, 4])
    tgt_lengths = torch.tensor([5, 7, 3])
    src = torch.randint(4, 30, (3, 6), generator=g)
    tgt = torch.randint(4, 40, (3, 7), generator=g)
    src[torch.arange(6)[None] >= src_lengths[:, None]] = 0
    tgt[torch.arange(7)[None] >= tgt_lengths[:, None]] = 0
    tgt[:, 0] = 2  # <sos>
    return {"src": src, "src_lengths": src_lengths, "tgt": tgt, "tgt_lengths": tgt_lengths}


MODELS = [
    *[lambda s=s: rnn_model("gru", s) for s in SCORES],
    # the scratch backend too, so the seq2seq tests cover both backends
    lambda: rnn_model("lstm", "additive", backend="scratch"),
    lambda: rnn_model("rnn", "dot"),
    lambda: transformer("standard"),
    lambda: transformer("compact"),
]
IDS = [f"gru-{s}" for s in SCORES] + ["lstm-additive", "rnn-dot", "standard", "compact"]


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_padding_invariance(make):
    model = make().eval()
    b = batch()
    with torch.no_grad():
        logits, loss = model(**b)
        more = dict(b, src=F.pad(b["src"], (0, 3)), tgt=F.pad(b["tgt"], (0, 2)))
        logits_padded, loss_padded = model(**more)
    n = logits.size(1)
    real = b["tgt"][:, 1:] != 0  # the positions that have a target
    torch.testing.assert_close(logits_padded[:, :n][real], logits[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss_padded, loss, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("attention", SCORES)
def test_step_by_step_decoding_equals_full_decoding(cell, attention):
    model = rnn_model(cell, attention, num_layers=2).eval()
    b = batch()
    with torch.no_grad():
        memory = model.encode(b["src"], b["src_lengths"])
        full, _, weights = model.decode_with_attention(b["tgt"], memory)
        steps, state = [], None
        for t in range(b["tgt"].size(1)):
            step, state = model.decode(b["tgt"][:, t : t + 1], memory, state)
            steps.append(step)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)
    if attention is not None:  # no weight on padded source positions
        assert (weights[1, :, 3:] == 0).all() and (weights[2, :, 4:] == 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 7))


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_transformer_decoding_equals_full_recomputation(norm_first):
    model = transformer("standard", norm_first=norm_first).eval()
    b = batch()
    with torch.no_grad():
        memory = model.encode(b["src"], b["src_lengths"])
        full, _ = model.decode(b["tgt"], memory)
        steps, cache = [], None
        for t in range(b["tgt"].size(1)):
            step, cache = model.decode(b["tgt"][:, t : t + 1], memory, cache)
            steps.append(step)
    assert len(cache) == b["tgt"].size(1)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_teacher_forcing_zero_feeds_back_greedy_predictions():
    model = rnn_model("gru", "dot", teacher_forcing=0.0).train()  # dropout 0: deterministic
    b = batch()
    logits, _ = model(**b)
    greedy = greedy_decode(model, b["src"], b["src_lengths"], sos_id=2, eos_id=-1, max_length=6)
    assert torch.equal(logits.argmax(-1), greedy)


def test_transformer_decoder_is_causal_and_greedy_is_consistent():
    model = transformer("standard").eval()
    b = batch()
    changed = b["tgt"].clone()
    changed[:, 4:] = 5
    with torch.no_grad():
        a, _ = model(**b)
        c, _ = model(**dict(b, tgt=changed))
    torch.testing.assert_close(a[:, :3], c[:, :3], atol=1e-5, rtol=1e-5)
    out = greedy_decode(model, b["src"], b["src_lengths"], sos_id=2, eos_id=-1, max_length=5)
    with torch.no_grad():
        memory = model.encode(b["src"], b["src_lengths"])
        tgt_in = torch.cat([torch.full((3, 1), 2), out[:, :-1]], 1)
        assert torch.equal(model.decode(tgt_in, memory)[0].argmax(-1), out)


def test_greedy_decode_pads_after_eos():
    model = rnn_model("gru", None)
    b = batch()
    first = greedy_decode(model, b["src"], b["src_lengths"], 2, eos_id=-1, max_length=4)
    eos = int(first[0, 1])  # pretend the second token of row 0 is <eos>
    out = greedy_decode(model, b["src"], b["src_lengths"], 2, eos_id=eos, max_length=4)
    assert out[0, 1] == eos and (out[0, 2:] == 0).all()


def exhaustive(model, src, src_lengths, eos: int, max_length: int, alpha: float, V: int,
               banned=()):  # fmt: skip
    """The best length-normalised hypothesis of every source, by scoring every word sequence
    without a `banned` word (the others' probabilities renormalised)."""
    best = []
    with torch.no_grad():
        for b in range(src.size(0)):
            memory = model.encode(src[b : b + 1], src_lengths[b : b + 1])
            candidates = []
            for n in range(1, max_length + 1):
                for words in itertools.product(range(V), repeat=n):
                    if eos in words[:-1] or set(words) & set(banned):
                        continue  # a hypothesis ends at its first <eos>
                    if n < max_length and words[-1] != eos:
                        continue  # shorter than max_length: must have ended
                    tgt_in = torch.tensor([[2, *words[:-1]]])
                    logp = ban(model.decode(tgt_in, memory)[0][0], banned).log_softmax(-1)
                    total = logp[torch.arange(n), torch.tensor(words)].sum().item()
                    candidates.append((total / length_penalty(n, alpha), list(words)))
            best.append(max(candidates)[1])
    return best


@pytest.mark.parametrize("kind", ["gru", "transformer"])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_search_equals_exhaustive_search_on_a_tiny_model(kind, alpha):
    """A beam wider than every step's choices keeps every hypothesis alive: it must find the
    exhaustive optimum. V = 4 words (one is <eos> = 3), hypotheses up to 4 words."""
    torch.manual_seed(1)
    if kind == "gru":
        cfg = Seq2SeqConfig(6, 4, cell="gru", embed_dim=4, hidden_size=8, attention="dot")
        model = Seq2Seq(cfg).eval()
    else:
        cfg = TransformerTranslatorConfig(6, 4, embed_dim=8, num_heads=2, hidden_size=16,
                                          num_layers=1, decoder_layers=1,
                                          dropout=0.0, max_length=16)  # fmt: skip
        model = TransformerTranslator(cfg).eval()
    with torch.no_grad():  # sharpen the output so that greedy and beam search disagree
        model.output.weight.mul_(4.0)
    src = torch.tensor([[1, 4, 5], [2, 3, 0]])
    lengths = torch.tensor([3, 2])
    want = exhaustive(model, src, lengths, eos=3, max_length=4, alpha=alpha, V=4)
    got = beam_search(model, src, lengths, 2, 3, max_length=4, beam_size=64, alpha=alpha)
    assert got == want
    # a beam of one is greedy search
    one = beam_search(model, src, lengths, 2, 3, max_length=4, beam_size=1, alpha=alpha)
    greedy = greedy_decode(model, src, lengths, 2, 3, max_length=4).tolist()
    assert one == [row[: row.index(3) + 1] if 3 in row else row for row in greedy]


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_beam_search_with_banned_words_equals_exhaustive_search_over_the_others(kind):
    """Translation bans <pad>, <unk> and <sos> (0, 1, 2): with V = 6 words, beam search must
    find the exhaustive optimum among the other three (<eos> = 3 and two words)."""
    torch.manual_seed(3)
    if kind == "gru":
        model = Seq2Seq(Seq2SeqConfig(6, 6, cell="gru", embed_dim=4, hidden_size=8,
                                      attention="dot")).eval()  # fmt: skip
    else:
        cfg = TransformerTranslatorConfig(6, 6, embed_dim=8, num_heads=2, hidden_size=16,
                                          num_layers=1, decoder_layers=1,
                                          dropout=0.0, max_length=16)  # fmt: skip
        model = TransformerTranslator(cfg).eval()
    with torch.no_grad():  # make the banned words the most likely ones
        model.output.weight.mul_(4.0)
        model.output.bias[:3] += 5.0
    src = torch.tensor([[1, 4, 5], [2, 3, 0]])
    lengths = torch.tensor([3, 2])
    banned = [0, 1, 2]
    free = beam_search(model, src, lengths, 2, 3, max_length=4, beam_size=64)
    assert {w for row in free for w in row} & set(banned)  # unbanned, they are chosen
    want = exhaustive(model, src, lengths, 3, 4, 0.6, V=6, banned=banned)
    got = beam_search(model, src, lengths, 2, 3, 4, beam_size=64, alpha=0.6, banned=banned)
    assert got == want and not {w for row in got for w in row} & set(banned)
    greedy = greedy_decode(model, src, lengths, 2, 3, max_length=4, banned=banned).tolist()
    words = {w for row in greedy for w in (row[: row.index(3)] if 3 in row else row)}
    assert words and not words & set(banned)  # (padding after <eos> is not a choice)


@pytest.mark.parametrize("make", MODELS[1:4] + MODELS[5:], ids=IDS[1:4] + IDS[5:])
def test_overfits_one_batch(make):
    model = make()
    b = batch(seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        _, loss = model(**b)
        loss.backward()
        opt.step()
        if loss.item() < 0.05:
            break
    assert loss.item() < 0.05, f"loss {loss.item():.3f}"


def test_compact_decoding_reads_off_every_position():
    """The compact model is not autoregressive: greedy decoding is the per-position argmax of
    its forward pass, also past the source length (src length 6, 9 target positions)."""
    model = transformer("compact").eval()
    b = batch()
    tgt = torch.cat([b["tgt"], torch.full((3, 3), 5)], dim=1)  # (3, 10): 9 positions to predict
    with torch.no_grad():
        logits, _ = model(**dict(b, tgt=tgt))
    out = greedy_decode(model, b["src"], b["src_lengths"], sos_id=2, eos_id=-1, max_length=9)
    assert out.shape == (3, 9) and torch.equal(out, logits.argmax(-1))
    beam = beam_search(model, b["src"], b["src_lengths"], 2, -1, max_length=9, beam_size=3)
    assert beam == out.tolist()


@pytest.mark.parametrize("make", [MODELS[2], MODELS[-2], MODELS[-1]], ids=["gru", "std", "compact"])
def test_model_from_config_round_trip(make):
    model = make().eval()
    clone = model_from_config(type(model).__name__, dataclasses.asdict(model.config)).eval()
    clone.load_state_dict(model.state_dict())
    b = batch()
    torch.testing.assert_close(clone(**b)[0], model(**b)[0])


@pytest.mark.parametrize("make", [MODELS[2], MODELS[-2]], ids=["rnn", "transformer"])
def test_bad_input_raises(make):
    model = make()
    b = batch()
    with pytest.raises(ValueError, match=r"T >= 2"):
        model(**dict(b, tgt=b["tgt"][:, :1]))
    with pytest.raises(ValueError, match=r"src must hold token ids in \[0, vocab_size=30\)"):
        model(**dict(b, src=b["src"] + 30))
    with pytest.raises(ValueError, match=r"tgt must be an integer tensor of shape \(B, T\)"):
        model(**dict(b, tgt=b["tgt"].float()))
    with pytest.raises(ValueError, match=r"src_lengths must lie in \[1, T=6\]"):
        model(**dict(b, src_lengths=torch.tensor([7, 3, 4])))
    with pytest.raises(ValueError, match="must be"):
        Seq2Seq(Seq2SeqConfig(5, 5, attention="bilinear"))


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_label_smoothing_in_training_only(make):
    """The smoothed training loss equals torch's smoothed cross-entropy; eval mode reports the
    plain cross-entropy (so validation perplexity stays comparable)."""
    torch.manual_seed(0)
    model = make()
    model.config.label_smoothing = 0.1
    b = batch()
    model.eval()
    logits, plain = model(**b)
    V = logits.size(-1)
    targets = b["tgt"][:, 1:]
    targets = F.pad(targets, (0, logits.size(1) - targets.size(1)))  # the compact form pads
    ref = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=0)
    torch.testing.assert_close(plain, ref)
    model.train()  # dropout is 0 in these models: same logits
    logits, smoothed = model(**b)
    ref = F.cross_entropy(
        logits.reshape(-1, V), targets.reshape(-1), ignore_index=0, label_smoothing=0.1
    )
    torch.testing.assert_close(smoothed, ref)
    assert not torch.isclose(smoothed, plain)


def test_transformer_cross_attention_weights():
    """decode_with_attention gives decode's logits and the last layer's head-averaged
    cross-attention: rows sum to 1 and pad keys get nothing."""
    model = transformer("standard").eval()
    b = batch()
    memory = model.encode(b["src"], b["src_lengths"])
    logits, _ = model.decode(b["tgt"][:, :-1], memory)
    logits2, _, weights = model.decode_with_attention(b["tgt"][:, :-1], memory)
    torch.testing.assert_close(logits2, logits)
    assert weights.shape == (3, 6, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 6))
    pads = torch.arange(6)[None, None] >= b["src_lengths"][:, None, None]
    assert weights.masked_select(pads.expand_as(weights)).abs().max() == 0
    assert model.decoder.layers[-1].cross_attn.backend == "fused"  # restored


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("attention", [None, "cosine"])
def test_scratch_cells_inside_seq2seq_match_the_fused_path(cell, attention):
    """The course's hand-written RNN unit and LSTM (nn.Parameter), and the GRU, inside the
    encoder-decoder:
    same state_dict, same logits, loss and gradients as the fused (cuDNN/oneDNN) layers."""
    scratch = rnn_model(cell, attention, backend="scratch")
    fused = rnn_model(cell, attention, backend="fused")
    fused.load_state_dict(scratch.state_dict())  # strict: same names and shapes
    b = batch()
    (logits_s, loss_s), (logits_f, loss_f) = scratch(**b), fused(**b)
    torch.testing.assert_close(logits_s, logits_f, atol=1e-5, rtol=1e-4)
    loss_s.backward()
    loss_f.backward()
    grads_f = dict(fused.named_parameters())
    for name, p in scratch.named_parameters():
        torch.testing.assert_close(p.grad, grads_f[name].grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("mode", ["standard", "compact"])
def test_scaled_embeddings_start_at_the_size_of_the_positional_encoding(mode):
    """Embeddings x sqrt(d_model) start with unit variance (fairseq's N(0, 1/d) init), as the
    sinusoidal positions do; nn.Embedding's N(0, 1) would start them sqrt(d_model) times larger
    (16x at d 256) and saturate the first attention softmax. The padding row stays zero."""
    torch.manual_seed(0)
    d = 256
    if mode == "compact":
        model = CompactTranslator(CompactTranslatorConfig(5000, 40, embed_dim=d, num_heads=2))
    else:
        model = TransformerTranslator(TransformerTranslatorConfig(5000, 40, embed_dim=d))
    embeddings = [model.src_embedding] + ([] if mode == "compact" else [model.tgt_embedding])
    for embedding in embeddings:
        scaled = embedding.weight[1:] * d**0.5
        assert 0.95 < scaled.std().item() < 1.05
        assert torch.all(embedding.weight[0] == 0)
    model.eval()  # the sinusoids alone (no dropout) on zero inputs, for scale
    positions = model.positions(torch.zeros(1, 60, d)).std().item()
    assert 0.5 < positions < 1.0


@pytest.mark.parametrize(
    "kind, old, new",
    [
        ("TransformerTranslator",
         {"d_model": 16, "d_ff": 24, "num_encoder_layers": 2, "num_decoder_layers": 1},
         {"embed_dim": 16, "hidden_size": 24, "num_layers": 2, "decoder_layers": 1}),
        ("TransformerTranslator",
         {"d_model": 16, "d_ff": 24, "num_encoder_layers": 2, "num_decoder_layers": 2},
         {"embed_dim": 16, "hidden_size": 24, "num_layers": 2, "decoder_layers": None}),
        ("CompactTranslator", {"d_model": 16, "d_ff": 24, "num_layers": 2},
         {"embed_dim": 16, "hidden_size": 24, "num_layers": 2}),
    ],
)  # fmt: skip
def test_old_translator_configs_are_upgraded(kind, old, new):
    """Checkpoints written before the size names were shared say d_model, d_ff and
    num_encoder/decoder_layers: model_from_config renames them and builds the same model."""
    base = {"src_vocab_size": 30, "tgt_vocab_size": 40, "num_heads": 2, "max_length": 32}
    torch.manual_seed(0)
    upgraded = model_from_config(kind, base | old)
    assert upgraded.config == type(upgraded.config)(**base, **new)
    torch.manual_seed(0)
    model = model_from_config(kind, base | new)
    assert list(model.state_dict()) == list(upgraded.state_dict())
    for a, b in zip(model.parameters(), upgraded.parameters(), strict=True):
        assert torch.equal(a, b)


def test_translator_builds_each_family_from_one_settings_section():
    from seqlab.models import translator

    settings = {"cell": "lstm", "attention": "dot", "embed_dim": 16, "hidden_size": 24,
                "num_layers": 1, "num_heads": 2, "dropout": 0.0}  # fmt: skip
    s2s = translator("seq2seq", 30, 40, **settings)
    assert isinstance(s2s, Seq2Seq) and s2s.config.cell == "lstm"
    tr = translator("transformer", 30, 40, **settings)
    assert isinstance(tr, TransformerTranslator) and tr.config.num_heads == 2
    assert len(tr.decoder.layers) == 1  # decoder_layers None: as many as num_layers
    assert isinstance(translator("compact", 30, 40, **settings), CompactTranslator)
    with pytest.raises(ValueError, match="no translator has"):
        translator("seq2seq", 30, 40, d_model=16)
    with pytest.raises(ValueError, match="must be one of"):
        translator("rnn", 30, 40)
