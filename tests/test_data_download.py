"""Finding and downloading data: checksums, atomic writes, offline errors (local servers only)."""

import functools
import hashlib
import http.server
import io
import tarfile
import threading

import pytest

from seqlab.cli import main
from seqlab.data import download
from seqlab.data.download import find_file
from seqlab.data.imdb import load_imdb
from seqlab.errors import DataNotFoundError


@pytest.fixture(autouse=True)
def _own_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQLAB_OFFLINE", raising=False)
    (tmp_path / "empty").mkdir()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(tmp_path):
    return [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_download_verifies_sha256(tmp_path, server, monkeypatch):
    root, url = server
    body = b" a b\n c\n"
    (root / "valid.txt").write_bytes(body)
    good = hashlib.sha256(body).hexdigest()
    monkeypatch.setitem(download.REMOTE_FILES, "wikitext-2/valid.txt", (f"{url}/valid.txt", good))
    path = find_file("wikitext-2/valid.txt", tmp_path / "empty")
    assert path == tmp_path / "cache" / "data" / "wikitext-2" / "valid.txt"
    assert path.read_bytes() == body
    # Found in the cache the second time, even offline.
    monkeypatch.setenv("SEQLAB_OFFLINE", "1")
    assert find_file("wikitext-2/valid.txt", tmp_path / "empty") == path


def test_bad_checksum_or_missing_url_leaves_nothing(tmp_path, server, monkeypatch):
    root, url = server
    (root / "test.txt").write_bytes(b"tampered\n")
    monkeypatch.setitem(download.REMOTE_FILES, "wikitext-2/test.txt", (f"{url}/test.txt", "0" * 64))
    with pytest.raises(DataNotFoundError, match="does not match the expected"):
        find_file("wikitext-2/test.txt", tmp_path / "empty")
    monkeypatch.setitem(download.REMOTE_FILES, "wikitext-2/test.txt", (f"{url}/gone.txt", "0" * 64))
    with pytest.raises(DataNotFoundError, match=r"missing data file .*empty/wikitext-2/test\.txt"):
        find_file("wikitext-2/test.txt", tmp_path / "empty")
    assert _leftovers(tmp_path) == []


def test_offline_names_file_and_source(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_OFFLINE", "1")
    with pytest.raises(DataNotFoundError) as e:
        find_file("multi30k/train.de.gz", tmp_path / "empty")
    msg = str(e.value)
    assert str(tmp_path / "empty" / "multi30k" / "train.de.gz") in msg
    assert "https://raw.githubusercontent.com/multi30k/dataset/" in msg


@pytest.mark.parametrize("name", ["imdb", "wikitext-2", "multi30k"])
def test_cli_offline_without_data(tmp_path, capsys, name):
    code = main(["data", "info", name, "--data-dir", str(tmp_path / "empty"), "--offline"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("seqlab: error: ") and "missing data file" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert _leftovers(tmp_path) == []


def test_imdb_archive_downloaded_and_extracted(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for split in ("train", "test"):
            for label in ("neg", "pos"):
                for i in range(4):
                    data = f"{label} movie {i}".encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_5.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        unsup = tarfile.TarInfo("aclImdb/train/unsup/0_0.txt")
        tar.addfile(unsup, io.BytesIO(b""))
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(buf.getvalue())
    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    monkeypatch.setitem(download.REMOTE_FILES, "aclImdb_v1.tar.gz", (archive.as_uri(), sha))
    d = load_imdb(tmp_path / "empty", valid_fraction=0.5)
    assert (len(d.train), len(d.valid), len(d.test)) == (4, 4, 8)
    tree = tmp_path / "cache" / "data" / "aclImdb"
    assert (tree / "test" / "pos" / "3_5.txt").read_text() == "pos movie 3"
    assert not (tree / "train" / "unsup").exists()
    assert not [p for p in tree.parent.iterdir() if p.name.startswith(".")]
