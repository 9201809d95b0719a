"""The uuml examples, read from the original .rda files, reproduce the course's printed numbers."""

import json

import numpy as np
import pytest

from seqlab.errors import DataNotFoundError, SeqlabError
from seqlab.examples import load_uuml
from seqlab.reference import (
    activation,
    attention,
    multi_head_self_attention,
    output_rnn,
    qkv,
    rnn_backward,
    rnn_layer,
    rnn_unit,
    softmax,
)

TOKENS = ("the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog")


def close(actual, printed):
    """Within 1e-6 of the course's printed values (R prints 7 significant digits)."""
    np.testing.assert_allclose(actual, printed, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def transformer(shared_data):
    return load_uuml("transformer_example", shared_data)


@pytest.fixture(scope="module")
def rnn(shared_data):
    return load_uuml("rnn_example", shared_data)


@pytest.mark.parametrize("name", ["transformer_example", "rnn_example"])
def test_rda_arrays_equal_the_json_copies(shared_data, name):
    ex = load_uuml(name, shared_data)
    objects = json.loads((shared_data / "uuml" / f"{name}.json").read_text())["objects"][name]
    assert set(ex.arrays) == set(objects)
    for key, spec in objects.items():
        assert ex[key].shape == tuple(spec["shape"]), key
        np.testing.assert_array_equal(ex[key], np.array(spec["values"]), err_msg=key)
    assert ex.tokens == TOKENS == tuple(objects["embeddings"]["dimnames"][0])


def test_shapes_in_r_order(transformer, rnn):
    assert transformer["Wq"].shape == (5, 3, 4) and transformer["W0"].shape == (12, 3)
    assert {k: rnn[k].shape for k in "WUVbc"} == {
        "W": (4, 4), "U": (4, 5), "V": (3, 4), "b": (4, 1), "c": (3, 1)
    }  # fmt: skip
    np.testing.assert_array_equal(rnn["embeddings"], transformer["embeddings"])


def test_attention_course_values(transformer):
    X = transformer["embeddings"][:3]
    heads = [transformer[w][:, :, 0] for w in ("Wq", "Wk", "Wv")]  # head 1 = R's W[, , 1]
    res = qkv(X, *heads, tokens=transformer.tokens[:3])
    assert res.tokens == ("the", "quick", "brown")
    close(res.Q, [[0.4722259, 0.04995783, -0.5350845], [-0.3662435, 0.12144160, 0.3454785],
                  [-0.1029677, -0.12728414, 0.1817097]])  # fmt: skip
    close(res.K[0], [0.094360579, -0.203807092, -0.1851229])
    close(res.V[0], [0.317318525, -0.35023010, 0.13284078])
    out = attention(res.Q, res.K, res.V)
    close(out.Z, [[0.012395453, -0.0212420459, 0.009404870],
                  [-0.003759269, -0.0008360029, -0.005108890],
                  [0.002412222, -0.0088974612, 0.001147999]])  # fmt: skip
    close(out.attention, [[0.3601932, 0.3080896, 0.3317172], [0.3088780, 0.3582373, 0.3328847],
                          [0.3300375, 0.3360583, 0.3339042]])  # fmt: skip
    mh = multi_head_self_attention(X, *(transformer[w] for w in ("Wq", "Wk", "Wv", "W0")))
    close(mh.Z, [[-0.014189613, -0.0040299008, -0.006756286],
                 [-0.009963516, -0.0010724342, -0.001996524],
                 [-0.006394562, -0.0006626115, -0.002219108]])  # fmt: skip


def test_rnn_course_values(rnn):
    W, U, V, b, c = (rnn[k] for k in "WUVbc")
    a_t = rnn_unit(np.zeros((4, 1)), rnn["embeddings"][:1], W, U, b)  # as the course: R shapes
    close(a_t, [0.5819145, -2.2686535, -0.6410312, 1.4891931])
    h_t = activation(a_t)
    close(h_t, [0.5240555, -0.9788223, -0.5656013, 0.9031762])
    close(softmax(output_rnn(h_t, V, c)), [0.3063613, 0.2930885, 0.4005502])
    out = rnn_layer(rnn["embeddings"][:3], W, V, U, b, c, tokens=rnn.tokens[:3])
    close(out.h, [[0.52405551, -0.97882227, -0.5656013, 0.9031762],
                  [-0.05951368, 0.03988226, 0.8241800, -0.6562744],
                  [-0.08984008, 0.92822217, -0.1563247, -0.6657626]])  # fmt: skip
    close(out.y_hat, [[0.3063613, 0.2930885, 0.4005502], [0.2838013, 0.3490452, 0.3671536],
                      [0.2878002, 0.3666877, 0.3455121]])  # fmt: skip
    assert out.tokens == ("the", "quick", "brown")


def test_rnn_backward_on_the_course_length_4_sequence(rnn):
    # "Given a length-4 sequence RNN, derive the gradients": check W's gradient numerically.
    X, y = rnn["embeddings"][:4], np.array([0, 2, 1, 0])
    args = {k: rnn[k] for k in "WVUbc"}
    grads = rnn_backward(X, y, **args)

    def loss(W):
        y_hat = rnn_layer(X, **{**args, "W": W}).y_hat
        return -np.log(y_hat[np.arange(4), y]).sum()

    numeric = np.zeros((4, 4))
    for i in np.ndindex(4, 4):
        step = np.zeros((4, 4))
        step[i] = 1e-6
        numeric[i] = (loss(args["W"] + step) - loss(args["W"] - step)) / 2e-6
    np.testing.assert_allclose(grads.W, numeric, rtol=1e-6, atol=1e-9)
    assert grads.b.shape == (4, 1)  # shaped like R's b


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="uuml/rnn_example.rda not found"):
        load_uuml("rnn_example", tmp_path)
    (tmp_path / "uuml").mkdir()
    (tmp_path / "uuml" / "rnn_example.rda").write_bytes(b"not an R file")
    with pytest.raises(DataNotFoundError, match="not a readable R data file"):
        load_uuml("rnn_example", tmp_path)
    with pytest.raises(SeqlabError, match="unknown uuml example"):
        load_uuml("mnist_example", tmp_path)
