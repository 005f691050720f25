"""Every write of the labeling app, one module per sub-domain: batches, assignments,
ratings, review, requesters. Each service runs in a transaction and takes keyword arguments."""
