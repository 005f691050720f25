"""Money: the ledger, requester deposits, LNURL-auth and LNURL-withdraw, Lightning backends,
payment jobs and reconciliation.

- `ledger.transfer()` is the only code that moves money (integer msat, entries sum to zero,
  cached balances changed by conditional UPDATEs that refuse overdrafts).
- Batch created → cost reserved (402 if not covered); rating held → pending; approved →
  available; rejected → back to the reservation (held) or the requester; batch cancelled →
  what is left goes back to the requester.
- Withdrawal: open → paying (one conditional UPDATE on the k1, then the job is queued on
  commit) → paid | failed; open → expired. The job claims the single send before asking the
  node to pay (payment hash = idempotency key); `reconcile` (beat, 30 s) finishes `paying`
  rows from the node's record and never sends a payment that may have been sent.
- Fees: the worker is debited exactly the withdrawn amount; the routing fee is the platform's
  cost, booked from `system:fees`, capped by PAYOUT_FEE_LIMIT_BASE_MSAT + PAYOUT_FEE_LIMIT_PPM.
"""
