"""The lnd (REST) and cln (clnrest) backends against local servers speaking their shapes:
invoices, payments, repeats by payment hash, refusals, outages and timeouts."""

import pytest

from payouts.lightning import InvoiceState, NodeTimeout, NodeUnavailable, PaymentState
from payouts.lightning.cln import ClnBackend
from payouts.lightning.http import HttpError
from payouts.lightning.lnd import LndBackend

from .factories import invoice
from .node_servers import ClnHandler, LndHandler, NodeServer


@pytest.fixture(params=["lnd", "cln"])
def node(request):
    server = NodeServer(LndHandler if request.param == "lnd" else ClnHandler)
    if request.param == "lnd":
        backend = LndBackend(url=server.url, macaroon_hex=LndHandler.auth_value, timeout=1)
    else:
        backend = ClnBackend(url=server.url, rune=ClnHandler.auth_value, timeout=1)
    backend.http_margin = 0.0  # the servers "hang" for 2 s: time out after 1
    yield server, backend
    server.close()


def pay(backend, pr):
    import bolt11

    return backend.pay_invoice(
        bolt11=pr, idempotency_key=bolt11.decode(pr).payment_hash, max_fee_msat=1_000
    )


def test_info_reports_the_network(node):
    _server, backend = node
    assert backend.info().network == "regtest"


def test_deposit_invoices_are_created_and_followed(node):
    server, backend = node
    created = backend.create_invoice(amount_msat=9_000, memo="deposit", expiry_seconds=600)
    assert created.bolt11.startswith("lnbcrt")
    assert backend.invoice_status(payment_hash=created.payment_hash) == InvoiceState.UNPAID
    server.invoices[created.payment_hash]["paid"] = True
    assert backend.invoice_status(payment_hash=created.payment_hash) == InvoiceState.PAID
    with pytest.raises(KeyError):
        backend.invoice_status(payment_hash="ab" * 32)


def test_a_payment_succeeds_and_a_repeat_reports_it_without_paying_again(node, worker):
    server, backend = node
    pr = invoice(worker, 10_000)
    first = pay(backend, pr)
    assert first.state == PaymentState.SUCCEEDED
    assert len(first.preimage) == 64 and first.fee_msat > 0
    again = pay(backend, pr)
    assert again.state == PaymentState.SUCCEEDED and again.preimage == first.preimage
    assert len(server.payments) == 1
    import bolt11

    status = backend.payment_status(payment_hash=bolt11.decode(pr).payment_hash)
    assert status.state == PaymentState.SUCCEEDED and status.preimage == first.preimage


def test_an_unknown_payment_hash_is_not_found(node):
    _server, backend = node
    assert backend.payment_status(payment_hash="cd" * 32).state == PaymentState.NOT_FOUND


def test_no_route_is_a_definite_failure(node, worker):
    server, backend = node
    server.mode = "no-route"
    assert pay(backend, invoice(worker, 10_000)).state == PaymentState.FAILED


def test_an_internal_node_error_is_not_taken_for_a_failure(node, worker):
    server, backend = node
    server.mode = "error"
    with pytest.raises(HttpError):
        pay(backend, invoice(worker, 10_000))


def test_a_hanging_payment_times_out_and_is_later_seen_in_flight(node, worker):
    import bolt11

    server, backend = node
    server.mode = "hang"
    pr = invoice(worker, 10_000)
    with pytest.raises(NodeTimeout):
        pay(backend, pr)
    server.mode = "ok"
    payment_hash = bolt11.decode(pr).payment_hash
    assert backend.payment_status(payment_hash=payment_hash).state == PaymentState.PENDING
    assert pay(backend, pr).state == PaymentState.PENDING  # never a second payment
    assert len(server.payments) == 1


def test_a_wrong_credential_is_refused(node):
    _server, backend = node
    backend.client.headers = {k: "bad" for k in backend.client.headers}
    with pytest.raises(HttpError) as refused:
        backend.info()
    assert refused.value.status == 401


def test_a_node_that_is_down_is_unavailable():
    backend = LndBackend(url="http://127.0.0.1:9", macaroon_hex="00", timeout=1)
    with pytest.raises(NodeUnavailable):
        backend.info()
    cln = ClnBackend(url="http://127.0.0.1:9", rune="x", timeout=1)
    with pytest.raises(NodeUnavailable):
        cln.pay_invoice(bolt11="lnbcrt1", idempotency_key="00", max_fee_msat=1)


def test_the_payment_job_finishes_through_lnd_after_a_timeout(
    node, worker, monkeypatch, django_capture_on_commit_callbacks
):
    from payouts.services import withdrawals as withdrawal_services

    from .factories import credit_worker, open_withdrawal

    server, backend = node
    monkeypatch.setattr(withdrawal_services, "get_backend", lambda: backend)
    credit_worker(worker, 10_000)
    withdrawal = open_withdrawal(worker, 10_000)
    server.mode = "hang"
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal_services.accept_withdrawal_invoice(k1=withdrawal.k1, pr=invoice(worker, 10_000))
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paying"
    server.mode = "ok"
    payment = next(iter(server.payments.values()))
    if "status" in payment and payment["status"] == "IN_FLIGHT":
        payment.update(status="SUCCEEDED", payment_preimage="ab" * 32, fee_msat="10")
    else:
        payment.update(status="complete", payment_preimage="ab" * 32)
    withdrawal_services.reconcile_payouts()
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid" and withdrawal.preimage == "ab" * 32
    assert server.pay_calls == 1
