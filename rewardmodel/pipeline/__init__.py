"""From preference pairs to a tuned policy with TRL: reward model training, PPO/GRPO/RLOO, sampling.

Pure Python (no Django), so it runs on any training machine:
`python -m rewardmodel.pipeline --help`.
The Python API takes the same dataclasses as the command line, plus an optional
`progress(fraction, message)` callable for reporting to a job.
"""
