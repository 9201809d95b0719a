"""docs/theory.md's answers: each claim's computation, which must bear it out (seqlab.theory)."""

import json

import pytest
import torch

from seqlab import theory
from seqlab import theory_statements as st
from seqlab.cli import main


def test_rnn_learns_the_order_a_network_on_the_sum_cannot():
    c = theory.rnn_against_sum()
    assert c.holds, c.numbers
    assert c.numbers["rnn_test_accuracy"] >= 0.9
    assert c.numbers["sum_test_accuracy"] == pytest.approx(0.5, abs=0.01)  # chance, exactly
    assert c.numbers["twin_sum_gap"] < 1e-5  # the twins' sums are the same vector


def test_order_notes_twins_swap_a_and_b_and_the_label():
    x, y = theory.order_notes(4, 5, 3, seed=0)
    assert x.shape == (8, 5, 3) and (y[0::2] + y[1::2] == 1).all()
    torch.testing.assert_close(x[0::2].sum(1), x[1::2].sum(1))
    assert not torch.equal(x[0::2], x[1::2])


def test_softmax_makes_present_labels_compete_sigmoids_do_not():
    c = theory.softmax_against_sigmoid()
    assert c.holds, c.numbers
    assert c.numbers["all_present_above_0.5_softmax"] == 0.0  # p1 + p2 <= 1
    assert c.numbers["all_present_above_0.5_sigmoid"] >= 0.8
    assert c.numbers["mean_p_present_sigmoid"] > 2 * c.numbers["mean_p_present_softmax"]


def test_factored_output_layer_counts_300_plus_233_multiply_adds():
    c = theory.output_cost()
    assert c.holds, c.numbers
    assert c.numbers["full_per_example"] == 70_000
    assert 300 + 233 <= c.numbers["factored_per_example"] <= 300 + 234
    assert c.numbers["ratio"] > 100


def test_measured_speedup_is_read_from_the_benchmark_file(tmp_path):
    path = tmp_path / "factored-output.json"
    assert theory.measured_speedup(path) == {}
    metrics = {"ratio_full_over_factored_train_step": 12.5}
    runs = [{"name": "70000-outputs-300-classes-uniform-targets", "metrics": metrics}]
    path.write_text(json.dumps({"benchmark": "factored-output", "runs": runs}))
    assert theory.measured_speedup(path) == {"measured_ratio_full_over_factored_train_step": 12.5}


def test_batchnorm_gradient_is_orthogonal_to_the_weights_and_norm_growth_is_second_order():
    c = theory.batchnorm_scale_invariance()
    assert c.holds, c.numbers
    n = c.numbers
    assert n["max_abs_cos_grad_w"] < 1e-8
    assert n["step_growth_ratio"] == pytest.approx(4.0, rel=1e-6)  # O(η²): halving η quarters it
    assert n["growth_to_t=1_eta/4"] < n["growth_to_t=1_eta/2"] < n["growth_to_t=1_eta/1"]
    assert n["growth_to_t=1_eta/4"] < 1e-3 * n["norm2_w0"]  # conserved in the flow limit


@pytest.mark.parametrize(
    "statement", [s for s in st.STATEMENTS if "bert" not in s.__name__], ids=lambda s: s.__name__
)
def test_statement(statement):
    c = statement()
    assert c.holds, (c.claim, c.numbers)
    assert c.claim.startswith(("TRUE:", "FALSE:"))


@pytest.mark.parametrize("statement", [st.bert_objectives, st.bert_is_bidirectional])
def test_bert_statement(statement):
    pytest.importorskip("transformers")
    c = statement()
    assert c.holds, (c.claim, c.numbers)


def test_statement_numbers():
    clip = st.clipping_and_vanishing().numbers
    assert clip["grad_norm_step_0_clipped"] <= clip["grad_norm_step_0"] < 1e-8
    gates = st.lstm_gates().numbers
    assert gates["max_i_plus_f"] > 1.2 and gates["min_i_plus_f"] < 0.8
    causal = st.gpt_is_causal().numbers
    assert causal["max_change_before_token_5"] == 0.0
    order = st.no_positions_no_order().numbers
    assert order["equivariance_error_no_pe"] < 1e-5 < order["equivariance_error_with_pe"]


def test_checks_restore_the_global_random_state():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    st.attention_sums_to_one()
    assert torch.equal(torch.rand(3), want)


def test_cli_prints_each_check_and_fails_when_a_claim_does_not_hold(capsys, monkeypatch):
    only = "batchnorm-scale-invariance,statement-9-attention-cost"
    assert main(["examples", "theory", "--only", only]) == 0
    out = capsys.readouterr().out
    assert "batchnorm-scale-invariance: holds" in out and "step_growth_ratio = 4" in out
    assert out.rstrip().endswith("2 of 2 checks hold")
    false = theory.Check("a claim", {"x": 1.0}, holds=False)
    monkeypatch.setattr(theory, "checks", lambda: {"broken": lambda: false})
    assert main(["examples", "theory"]) == 1
    assert "broken: DOES NOT HOLD" in capsys.readouterr().out
    assert main(["examples", "theory", "--only", "nope"]) == 2
    assert "unknown checks ['nope']" in capsys.readouterr().err
