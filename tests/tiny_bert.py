"""Kept only for tests/fixtures/make_checkpoints.py, a frozen record that imports this name.

Tests import the tiny BERT and the question file from tests/helpers.py.
"""

from helpers import QUESTIONS, write_questions, write_tiny_bert

__all__ = ["QUESTIONS", "write_questions", "write_tiny_bert"]
