"""Stop-word lists for `--stop-words english|none|FILE` (removed before the vocabulary is built).

"english" is NLTK's English list (179 words; `nltk.corpus.stopwords.words("english")`), the list
the Duke sentiment assignment removes. It holds negations ("not", "no", "nor", "don", "t"), so
removing it also removes words that flip a review's sentiment; the study's README says so.
"""

from __future__ import annotations

from pathlib import Path

from seqlab.errors import SeqlabError

# fmt: off
ENGLISH = (
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "you're", "you've",
    "you'll", "you'd", "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself",
    "she", "she's", "her", "hers", "herself", "it", "it's", "its", "itself", "they", "them",
    "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that", "that'll",
    "these", "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has",
    "had", "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if", "or",
    "because", "as", "until", "while", "of", "at", "by", "for", "with", "about", "against",
    "between", "into", "through", "during", "before", "after", "above", "below", "to", "from",
    "up", "down", "in", "out", "on", "off", "over", "under", "again", "further", "then", "once",
    "here", "there", "when", "where", "why", "how", "all", "any", "both", "each", "few", "more",
    "most", "other", "some", "such", "no", "nor", "not", "only", "own", "same", "so", "than",
    "too", "very", "s", "t", "can", "will", "just", "don", "don't", "should", "should've", "now",
    "d", "ll", "m", "o", "re", "ve", "y", "ain", "aren", "aren't", "couldn", "couldn't", "didn",
    "didn't", "doesn", "doesn't", "hadn", "hadn't", "hasn", "hasn't", "haven", "haven't", "isn",
    "isn't", "ma", "mightn", "mightn't", "mustn", "mustn't", "needn", "needn't", "shan", "shan't",
    "shouldn", "shouldn't", "wasn", "wasn't", "weren", "weren't", "won", "won't", "wouldn",
    "wouldn't",
)
# fmt: on
LISTS = {"english": ENGLISH}


def stop_words(spec: str | None) -> list[str]:
    """The stop words `spec` names: "none" (or None/"") none, "english" NLTK's list, otherwise a
    file of words separated by whitespace (lines starting with # are comments), lower-cased like
    the text they are removed from."""
    if not spec or spec.lower() == "none":
        return []
    if spec.lower() in LISTS:
        return sorted(LISTS[spec.lower()])
    path = Path(spec)
    if not path.is_file():
        raise SeqlabError(
            f"--stop-words takes {', '.join(['none', *LISTS])} or a file of words; "
            f"{spec!r} is neither"
        )
    lines = path.read_text(encoding="utf-8").splitlines()
    words = {w.lower() for line in lines if not line.lstrip().startswith("#") for w in line.split()}
    return sorted(words)
