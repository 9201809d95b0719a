"""`seqlab examples attention|rnn|norms` print the course's numbers with token-labelled rows."""

import numpy as np
import pytest

from seqlab.cli import main
from seqlab.commands.examples import NORMS_BATCH, format_matrix


def rows_of(text: str, title: str, count: int) -> dict[str, list[float]]:
    """The `count` labelled rows printed under the line `title`."""
    lines = text.splitlines()
    start = lines.index(title) + 2  # skip the title and the column header
    return {
        ln.split()[0]: [float(v) for v in ln.split()[1:]] for ln in lines[start : start + count]
    }


def test_attention_command(shared_data, capsys):
    assert main(["examples", "attention", "--data-dir", str(shared_data)]) == 0
    out = capsys.readouterr().out
    q = rows_of(out, "Q", 3)
    assert list(q) == ["the", "quick", "brown"]
    np.testing.assert_allclose(q["quick"], [-0.3662435, 0.12144160, 0.3454785], atol=1e-6)
    att = rows_of(out, "attention", 3)
    np.testing.assert_allclose(att["the"], [0.3601932, 0.3080896, 0.3317172], atol=1e-6)
    first3 = rows_of(out, "multi-head self-attention, first three tokens", 3)
    np.testing.assert_allclose(first3["brown"], [-0.006394562, -0.0006626115, -0.002219108])
    lines = out.splitlines()
    start = lines.index("multi-head self-attention, all tokens") + 2
    assert [ln.split()[0] for ln in lines[start : start + 9]][-3:] == ["the", "lazy", "dog"]


def test_rnn_command(shared_data, capsys):
    assert main(["examples", "rnn", "--data-dir", str(shared_data)]) == 0
    out = capsys.readouterr().out
    a_t = rows_of(out, "a_t = b + W h_{t-1} + U x_t", 1)
    np.testing.assert_allclose(
        a_t["the"], [0.5819145, -2.2686535, -0.6410312, 1.4891931], atol=1e-6
    )
    h = rows_of(out, "rnn_layer: h, all tokens", 9)
    np.testing.assert_allclose(h["brown"], [-0.08984008, 0.92822217, -0.1563247, -0.6657626])
    assert "dog" in h


def test_missing_data_dir_is_one_line_error(tmp_path, capsys):
    assert main(["examples", "attention", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqlab: error:") and err.count("\n") == 1


def test_norms_command_prints_the_course_batch_and_center_only_results(capsys):
    assert main(["examples", "norms"]) == 0
    out = capsys.readouterr().out
    blocks = out.split("\n\n")
    assert blocks[0].startswith("input batch") and blocks[1].startswith("batch_norm: x − mean")

    def images(block: str) -> np.ndarray:
        # Lines after the channel header: H=2 per image, channels side by side, "n=1" on the first.
        rows = [ln.replace("n=", "").split() for ln in block.splitlines()[2:]]
        values = np.array([[float(v) for v in r[-6:]] for r in rows])  # (N·H, C·W)
        return values.reshape(3, 2, 3, 2).transpose(0, 2, 1, 3)  # (N, C, H, W)

    np.testing.assert_array_equal(images(blocks[0]), NORMS_BATCH)
    # Batch norm, channel C1: mean (2 + 2 + 3.5) / 12 = 0.625, so n=1's C1 is [[-.625, .375], …].
    np.testing.assert_allclose(images(blocks[1])[0, 0], [[-0.625, 0.375], [0.375, -0.625]])
    assert blocks[4].startswith("group_norm, groups=1 (= layer_norm)")
    np.testing.assert_allclose(images(blocks[4]), images(blocks[2]))


@pytest.mark.parametrize("groups", ["2", "0"])
def test_norms_bad_groups(groups, capsys):
    assert main(["examples", "norms", "--groups", groups]) == 2
    assert "--groups must divide" in capsys.readouterr().err


def test_format_matrix_labels_rows_and_columns():
    text = format_matrix(np.array([[0.5, -0.25]]), rows=["the"], cols=["a", "b"])
    assert text.splitlines() == [" " * 13 + "a" + " " * 11 + "b", "the  0.5000000  -0.2500000"]
