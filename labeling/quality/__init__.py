"""Quality control: aggregation of answers, agreement, trust and review rules."""
