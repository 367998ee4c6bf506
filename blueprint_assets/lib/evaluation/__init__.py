"""Evaluation: answer keys and predictions, metrics, scoring, reports, baselines and the leaderboard."""
