"""Every write of the payouts app, one module per sub-domain: rating money, deposits,
withdrawals, Lightning Address payouts, wallet login. Money moves only through
`ledger.transfer`."""
