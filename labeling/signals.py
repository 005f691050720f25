"""What labeling announces. Other apps (payouts) subscribe; labeling imports none of them.

Receivers run inside the service's transaction, so an exception from one (for example
an uncovered batch cost) rolls the whole change back.
"""

from django.dispatch import Signal

# sender=Batch, batch=Batch: reserve its cost (raise InsufficientBalance to refuse it).
batch_created = Signal()
# sender=Batch, batch=Batch: cancelled or completed, once; release what is left of its money.
batch_closed = Signal()
# sender=Rating, rating=Rating: held for review; its reward waits as the worker's pending money.
rating_held = Signal()
# sender=Rating, rating=Rating, held=bool: accepted; the reward is the worker's to withdraw
# (from the batch's reservation, or from pending when the rating had been held).
rating_approved = Signal()
# sender=Rating, rating=Rating: a held rating rejected; its reward goes back to the batch's
# reservation (the item's slot reopens for another worker).
rating_rejected = Signal()
