"""Studies: plans of many training runs, run resumably, reported as tables and plots."""

from seqlab.study.runner import StudyRunner, run_sentiment_study
from seqlab.study.sentiment import RunSpec, StudySettings, parse_only, plan

__all__ = ["RunSpec", "StudyRunner", "StudySettings", "parse_only", "plan", "run_sentiment_study"]
