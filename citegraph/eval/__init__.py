"""Evaluation: BEIR readers, IR metrics and benchmark runners."""
