"""Finding data files, and downloading missing ones from their canonical public source.

Lookup order for a file `REL` (e.g. "wikitext-2/train.txt"): `data_dir()/REL`, then
`cache_dir()/"data"/REL`; if both are missing and downloads are allowed, `REL` is fetched into the
cache, its sha256 checked, and only then moved into place (temporary file + `os.replace`), so an
interrupted or corrupted download never leaves a half-written file behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from seqlab.data.paths import cache_dir, data_dir
from seqlab.errors import DataNotFoundError, SeqlabError

ENV_OFFLINE = "SEQLAB_OFFLINE"

_PT_EXAMPLES = (
    "https://raw.githubusercontent.com/pytorch/examples/"
    "77f55b912142e11fcfdf5b530231fb9c52f181e8/word_language_model/data/wikitext-2/"
)
_MULTI30K = (
    "https://raw.githubusercontent.com/multi30k/dataset/"
    "a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/"
)

# relative path -> (canonical URL, sha256). The hashes are those of shared/data/SHA256SUMS: the
# shared copies are byte-identical to these sources (see shared/data/README.md). The IMDB copy in
# shared/data is a JSONL conversion; the canonical source is the original Stanford archive.
REMOTE_FILES: dict[str, tuple[str, str]] = {
    "wikitext-2/train.txt": (
        _PT_EXAMPLES + "train.txt",
        "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
    ),
    "wikitext-2/valid.txt": (
        _PT_EXAMPLES + "valid.txt",
        "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    ),
    "wikitext-2/test.txt": (
        _PT_EXAMPLES + "test.txt",
        "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
    ),
    "multi30k/train.de.gz": (
        _MULTI30K + "train.de.gz",
        "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    ),
    "multi30k/train.en.gz": (
        _MULTI30K + "train.en.gz",
        "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    ),
    "multi30k/val.de.gz": (
        _MULTI30K + "val.de.gz",
        "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    ),
    "multi30k/val.en.gz": (
        _MULTI30K + "val.en.gz",
        "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    ),
    "multi30k/test_2016_flickr.de.gz": (
        _MULTI30K + "test_2016_flickr.de.gz",
        "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    ),
    "multi30k/test_2016_flickr.en.gz": (
        _MULTI30K + "test_2016_flickr.en.gz",
        "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    ),
    "aclImdb_v1.tar.gz": (
        "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    ),
}


def offline() -> bool:
    """True when $SEQLAB_OFFLINE is set to 1/true/yes: never try the network."""
    return os.environ.get(ENV_OFFLINE, "").lower() in ("1", "true", "yes")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_file(
    url: str, dest: str | os.PathLike, sha256: str | None, timeout: float = 60
) -> Path:
    """Download `url` to `dest` atomically, checking `sha256`; raise SeqlabError on any failure."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if sha256 is not None and h.hexdigest() != sha256:
            raise SeqlabError(f"{url}: sha256 {h.hexdigest()} does not match the expected {sha256}")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, dest)
        return dest
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise SeqlabError(f"cannot download {url}: {e}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def find_file(
    rel: str, root: str | os.PathLike | None = None, *, download: bool | None = None
) -> Path:
    """Path of data file `rel` under the data dir or the cache, downloading it if allowed."""
    primary = data_dir(root) / rel
    cached = cache_dir() / "data" / rel
    for candidate in (primary, cached):
        if candidate.is_file():
            return candidate
    url, sha256 = REMOTE_FILES.get(rel, (None, None))
    where = f"download it from {url}" if url else "see docs/data.md for where to get it"
    if download is None:
        download = not offline()
    if url is None or not download:
        why = (
            ""
            if url is None
            else f" (downloads are off: --offline, ${ENV_OFFLINE} or download=False)"
        )
        raise DataNotFoundError(f"missing data file {primary}{why}; {where} and put it there")
    try:
        return download_file(url, cached, sha256)
    except SeqlabError as e:
        raise DataNotFoundError(f"missing data file {primary} ({e}); copy it there by hand") from e


def find_acl_imdb(root: str | os.PathLike | None = None, *, download: bool | None = None) -> Path:
    """The original `aclImdb/` tree: in the data dir or cache, else downloaded and extracted."""
    base = data_dir(root)
    for candidate in (
        base,
        base / "aclImdb",
        base / "imdb" / "aclImdb",
        cache_dir() / "data" / "aclImdb",
    ):
        if (candidate / "train" / "pos").is_dir() and (candidate / "test" / "neg").is_dir():
            return candidate
    archive = find_file("aclImdb_v1.tar.gz", root, download=download)
    target = cache_dir() / "data" / "aclImdb"
    extract_acl_imdb(archive, target)
    return target


def extract_acl_imdb(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract the labelled reviews of aclImdb_v1.tar.gz into `target`, atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".aclImdb.", dir=target.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            # Skip the 50k unlabelled `train/unsup` reviews and the BoW features: not used here.
            members = [
                m
                for m in tar.getmembers()
                if m.isfile() and ("/pos/" in m.name or "/neg/" in m.name)
            ]
            tar.extractall(tmp, members=members, filter="data")
        os.replace(tmp / "aclImdb", target)
    except (OSError, tarfile.TarError) as e:
        raise SeqlabError(f"cannot extract {archive}: {e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
