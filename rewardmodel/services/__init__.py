"""Every write of the rewardmodel app: runs (start, execute, fail stalled) and their config."""
