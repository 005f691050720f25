"""Preference export, training runs and the TRL pipeline (rewardmodel.pipeline)."""
