"""What labeling announces. Other apps (payouts) subscribe; labeling imports none of them.

Receivers run inside the service's transaction, so an exception from one (for example
an uncovered batch cost) rolls the whole change back.
"""

from django.dispatch import Signal

# sender=Batch, batch=Batch: reserve its cost (raise InsufficientBalance to refuse it).
batch_created = Signal()
# sender=Rating, rating=Rating: the rating was accepted and its reward is owed to the worker.
rating_approved = Signal()
# sender=Rating, rating=Rating: a rejected rating; its reward goes back to the requester.
rating_rejected = Signal()
