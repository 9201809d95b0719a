"""The study's answers are written from the results: fixed fake results, sentences checked."""

from __future__ import annotations

import pytest

from seqlab.study import answers


def run(name, valid, *, test=None, train_acc=None, train_loss=0.3, notes=None, **extra):
    """A fake result: one kept epoch with the given accuracies."""
    history = [
        {
            "epoch": 1,
            "train_loss": train_loss,
            "train_accuracy": valid + 0.02 if train_acc is None else train_acc,
            "valid_loss": 0.4,
            "valid_accuracy": valid,
        }
    ]
    result = {
        "name": name,
        "label": name,
        "valid_accuracy": valid,
        "test_accuracy": valid - 0.01 if test is None else test,
        "params": 1000,
        "train_wall_s": 10.0,
        "epochs_run": 1,
        "selected_epoch": 1,
        "history": history,
        "notes": notes or {},
        "train": {},
    }
    return result | extra


def table_b(adam=0.87, rmsprop=0.85, adagrad=0.70, sanity=0.50, gru_adam=0.86, gru_time=8.0):
    rows = []
    for cell, accs in (("LSTM", (adam, rmsprop, adagrad)), ("GRU", (gru_adam, 0.84, 0.69))):
        for opt, acc, loss in zip(("Adam 1e-3", "RMSprop 1e-3", "Adagrad 1e-3"), accs,
                                  (0.2, 0.25, 0.6), strict=True):  # fmt: skip
            kind = opt.split()[0].lower()
            r = run(f"b-{cell}-{kind}", acc, train_loss=loss,
                    notes={"cell": cell, "optimizer": opt}, train={"optimizer": kind})  # fmt: skip
            if cell == "GRU":
                r["train_wall_s"] = gru_time
            rows.append(r)
        rows.append(run(f"b-{cell}-sgd-sanity", sanity, train_loss=0.69,
                        notes={"cell": cell, "optimizer": "SGD 1e-2 (sanity check)"}))  # fmt: skip
    return rows


def test_best_optimizer_follows_the_numbers():
    text = "\n".join(answers.optimizers(table_b()))
    assert "**LSTM**: Adam 1e-3 reached the best validation accuracy (0.870; test 0.860)" in text
    assert "ahead of RMSprop 1e-3 0.850, Adagrad 1e-3 0.700" in text
    assert "It also fit the training data best (train loss 0.200)" in text
    assert "stayed at chance" in text
    text = "\n".join(answers.optimizers(table_b(adam=0.80, rmsprop=0.88, sanity=0.71)))
    assert "**LSTM**: RMSprop 1e-3 reached the best validation accuracy (0.880" in text
    assert "Adam 1e-3 fit the training data closer (train loss 0.200 against 0.250)" in text
    assert "learned (+0.210 over chance)" in text


def test_gru_against_lstm_in_accuracy_and_time():
    lines = answers.gru_vs_lstm(table_b())
    assert (
        "the GRU beat the LSTM by more than 0.005 with 0 of 3 optimizers, lost with 3" in lines[0]
    )
    assert "best GRU 0.860 (Adam 1e-3), best LSTM 0.870 (Adam 1e-3): the LSTM's best" in lines[0]
    assert "the GRU trained in 8 s on average against the LSTM's 10 s (1.25x faster" in lines[1]
    lines = answers.gru_vs_lstm(table_b(gru_adam=0.90, gru_time=20.0))
    assert "with 1 of 3 optimizers" in lines[0] and "the GRU's best is higher" in lines[0]
    assert "(2.00x slower" in lines[1]
    lines = answers.gru_vs_lstm(table_b(gru_adam=0.873))
    assert "lost with 2 and tied with the rest" in lines[0]
    assert ": within 0.005 of each other, a tie." in lines[0]


def sweep(factor, values, accs):
    return [
        run(f"c-{factor}-{v}", a, notes={"factor": factor, "value": v}, params=10 * (i + 1))
        for i, (v, a) in enumerate(zip(values, accs, strict=True))
    ]


def test_sweeps_describe_the_shape_of_each_factor():
    rows = sweep("hidden", [25, 100, 320], [0.80, 0.86, 0.84]) + sweep(
        "depth", [1, 2], [0.85, 0.86]
    )
    rows += sweep("embed", [1, 16, 256], [0.86, 0.80, 0.75])
    text = "\n".join(answers.sweeps(rows))
    assert "**width (hidden size)**: validation accuracy peaked at 100" in text
    assert "from 25 to 320 it changed by +0.040" in text and "Best: 100 (0.860)" in text
    assert "**depth**: validation accuracy rose (or held) with every step" in text
    assert "**embedding size**: validation accuracy fell (or held) with every step" in text
    # Up and down by less than the noise (the full study's embedding sweep): no trend is claimed.
    flat = sweep("embed", [1, 4, 16, 64, 100, 256], [0.891, 0.890, 0.887, 0.890, 0.891, 0.886])
    (line,) = answers.sweeps(flat)
    assert "validation accuracy barely moved: all within 0.005, about the noise" in line
    off = run("c-dropout-0.0", 0.84, train_acc=0.99, label="2 x LSTM(100), no dropout",
              notes={"factor": "dropout", "value": 0.0})  # fmt: skip
    on = run("c-dropout-0.5", 0.86, train_acc=0.90, notes={"factor": "dropout", "value": 0.5})
    (line,) = answers.sweeps([off, on])
    assert "validation accuracy 0.860 against 0.840 without (higher)" in line
    assert "the train-valid gap went from 0.150 to 0.040" in line


def test_compound_against_single_factor_at_equal_phi():
    def d(name, phi, kind, acc):
        return run(name, acc, notes={"phi": phi, "scaling": kind})

    rows = [d("d-base", 0, None, 0.80), d("d-c1", 1, "compound", 0.83), d("d-w1", 1, "width", 0.82)]
    rows += [d("d-c2", 2, "compound", 0.84), d("d-e2", 2, "embedding", 0.85)]
    lines = answers.compound(rows)
    assert lines[0].startswith("- Compound scaling did not clearly beat single-factor scaling")
    assert "ahead by more than 0.005 at 1 of 2 values of phi, behind by more at 1" in lines[0]
    assert "phi 2: 0.840 (d-c2) against 0.850 (d-e2, embedding only)" in lines[0]
    assert "Best trial overall: d-e2 (embedding, validation 0.850" in lines[1]
    assert "+0.050 over the base" in lines[1]
    rows[3] = d("d-c2", 2, "compound", 0.87)
    assert answers.compound(rows)[0].startswith("- Compound scaling beat single-factor")
    rows[1] = d("d-c1", 1, "compound", 0.70)
    rows[3] = d("d-c2", 2, "compound", 0.70)
    assert answers.compound(rows)[0].startswith("- Compound scaling lost to single-factor")
    rows[3] = d("d-c2", 2, "compound", 0.852)  # one loss, one tie
    assert "did not clearly beat" in answers.compound(rows)[0]


@pytest.mark.parametrize(("bi", "word"), [(0.88, "helped"), (0.86, "no clear"), (0.80, "hurt")])
def test_bidirectional(bi, word):
    best = run("c-hidden-100", 0.86)
    (line,) = answers.bidirectional([run("e-bi-c-hidden-100", bi, train_wall_s=25.0)], best)
    assert word in line and f"validation {bi:.3f} against 0.860" in line and "2.5x" in line


def test_bias_and_variance_from_the_kept_epoch():
    over = run("big", 0.84, train_acc=0.99)
    under = run("sgd", 0.52, train_acc=0.53)
    fine = run("ok", 0.86, train_acc=0.88)
    over["history"].append({**over["history"][0], "epoch": 2, "valid_loss": 0.6})
    lines = answers.bias_variance([over, under, fine])
    assert "1 of 3 runs ended with training accuracy more than 0.05 above validation" in lines[0]
    assert "big (train 0.990, valid 0.840)" in lines[0]
    assert "rose after its minimum in 1 runs (big)" in lines[0]
    assert "1 runs stayed below 0.75 training accuracy, e.g. sgd (train 0.530" in lines[1]


def test_answers_section_only_for_tables_with_results():
    assert answers.answers({}, None) == ""
    text = answers.answers({"b": table_b()}, None)
    assert text.startswith("## Answers")
    assert "Which optimizer is best" in text and "GRU or LSTM" in text
    assert "compound scaling" not in text.lower().split("## answers")[1].split("bias")[0]
