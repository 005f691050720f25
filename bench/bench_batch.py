"""The funded pairwise batch the labeler benches rate (Django must be set up first)."""

from typing import Any


def post_pairwise_batch(*, name: str, items: int) -> Any:
    """A requester `name` and one batch of `items` pairwise items at overlap 3, funded by a
    fake-node deposit; simulated labelers answer at once, so no "too fast" flag."""
    from labeling.services import batches as batch_services
    from labeling.services import requesters as requester_services
    from payouts.services.deposits import fund_requester

    requester, _ = requester_services.create_requester(username=name)
    raw = [
        {
            "prompt": f"Question {i}: which answer is better?",
            "responses": [
                {"id": "a", "text": f"A good answer {i}"},
                {"id": "b", "text": f"A poor answer {i}"},
            ],
        }
        for i in range(items)
    ]
    fund_requester(requester=requester, amount_msat=items * 3 * 1_000)
    return batch_services.create_batch(
        requester=requester,
        name=name,
        task_type="pairwise",
        instructions="Pick one.",
        reward_msat=1_000,
        overlap=3,
        items=batch_services.validate_items(task_type="pairwise", items=raw),
        quality={"min_seconds": 0},
    )
