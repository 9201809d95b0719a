"""`seqlab data info`: the real data sets' known numbers, user files, the IMDB token-id cache."""

import pytest
from helpers import write_imdb

from seqlab.cli import main


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


def _info(capsys, *args):
    code = main(["data", "info", *args])
    out = capsys.readouterr().out
    assert code == 0
    return out


def test_info_wikitext2(shared_data, capsys):
    out = _info(capsys, "wikitext-2", "--data-dir", str(shared_data))
    for number in ("2,088,628", "217,646", "245,569", "33,278 types"):
        assert number in out


def test_info_multi30k(shared_data, capsys):
    out = _info(capsys, "multi30k", "--data-dir", str(shared_data))
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:6]}
    assert rows == {"train": "29,000", "valid": "1,014", "test": "1,000"}


def test_info_user_files(tmp_path, capsys):
    csv = tmp_path / "reviews.csv"
    csv.write_text("text,label\ngood,pos\nbad,neg\nfine,pos\n", encoding="utf-8")
    out = _info(capsys, str(csv))
    assert out.splitlines()[1].split() == ["split", "items", "neg", "pos", "tokens"]
    assert out.splitlines()[3].split() == ["train", "3", "1", "2", "3"]
    txt = tmp_path / "story.txt"
    txt.write_text("once upon\na time\n", encoding="utf-8")
    assert "6" in _info(capsys, str(txt)).splitlines()[3].split()  # 4 words + 2 <eos>


def test_info_imdb_counts_and_cache(tmp_path, capsys, monkeypatch):
    """On a synthetic IMDB folder; all of the real IMDB: `python benchmarks/imdb_cache.py`."""
    data = write_imdb(tmp_path / "data", 40)
    # Cold: read, tokenize (basic_english) and count both splits, build the vocabulary on train.
    out = _info(capsys, "imdb", "--data-dir", str(data))
    assert out.splitlines()[3].split()[:4] == ["train", "40", "20", "20"]
    assert out.splitlines()[4].split()[:4] == ["test", "40", "20", "20"]

    # Warm: the token-id cache answers; nothing is tokenized again.
    def no_tokenizing(*args, **kwargs):
        raise AssertionError("the second call re-tokenized instead of reading the cache")

    monkeypatch.setattr("seqlab.data.text.TextEncoder.fit_encode", no_tokenizing)
    assert _info(capsys, "imdb", "--data-dir", str(data)) == out


def test_info_data_folder_and_missing_folder(tmp_path, capsys):
    folder = tmp_path / "mine" / "wikitext-2"
    folder.mkdir(parents=True)
    for split in ("train", "valid", "test"):
        (folder / f"{split}.txt").write_text(" a b\n\n", encoding="utf-8")
    out = _info(capsys, str(tmp_path / "mine"))
    assert out.splitlines()[0].startswith("WikiText-2")
    assert out.splitlines()[3].split() == ["train", "4", "0"]  # " a b" + <eos>, empty line <eos>
    (tmp_path / "nothing").mkdir()
    assert main(["data", "info", str(tmp_path / "nothing")]) == 2
    assert "no IMDB, WikiText-2 or Multi30k files" in capsys.readouterr().err
