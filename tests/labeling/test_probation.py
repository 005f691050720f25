"""A new key is on probation by default: its ratings are held (shown as pending) until its
gold answers decide; passing pays them together, failing rejects them and frees their items;
trusted workers are paid at once; a new key behind a closed worker's client gains nothing."""

from django.urls import reverse

from labeling.models import Item, Rating, Worker
from labeling.quality import trust
from labeling.services import assignments as assignment_services
from labeling.services import ratings as rating_services
from tests.conftest import client_for
from tests.labeling.quality_helpers import answer, gold_items, plain_items


def submit(client, task, best):
    ranking = [best] + [r["id"] for r in task["task"]["responses"] if r["id"] != best]
    response = client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        {"ranking": ranking},
        format="json",
    )
    assert response.status_code == 201
    return response.json()


def test_a_new_workers_rating_is_held_and_shown_as_pending(make_batch, make_worker):
    make_batch("pairwise", items=plain_items(3), reward_msat=2_000)
    client = client_for(make_worker(on_probation=True).user)
    task = client.get(reverse("task-next")).json()
    body = submit(client, task, "a")
    assert body["status"] == "pending_review" and body["balance_msat"] == 0
    me = client.get(reverse("me")).json()
    assert me["pending_msat"] == 2_000 and me["balance_msat"] == 0


def test_the_task_page_explains_probation_in_the_workers_language(make_batch, make_worker):
    make_batch("pairwise", items=plain_items(1))
    newcomer, trusted = make_worker(on_probation=True), make_worker()
    page = client_for(newcomer.user)
    page.force_login(newcomer.user)
    english = page.get(reverse("work"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your first answers are checked against known answers before they are paid" in english
    assert f"up to {trust.PROBATION_HELD_CAP} wait at a time" in english
    spanish = page.get(reverse("work"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Tus primeras respuestas se comprueban" in spanish
    old_hand = client_for(trusted.user)
    old_hand.force_login(trusted.user)
    assert "checked against known answers" not in old_hand.get(reverse("work")).content.decode()


def test_passing_probation_pays_every_held_rating_in_the_same_submit(make_batch, make_worker):
    make_batch("pairwise", items=plain_items(8) + gold_items(14), reward_msat=1_000)
    worker = make_worker(on_probation=True)
    client = client_for(worker.user)
    statuses = []
    for _ in range(20):
        task = client.get(reverse("task-next")).json()
        statuses.append(submit(client, task, "a")["status"])  # always right
        worker.refresh_from_db()
        if worker.standing == Worker.Standing.TRUSTED:
            break
    assert worker.standing == Worker.Standing.TRUSTED
    assert set(statuses[:-1]) == {"pending_review"}
    assert statuses[-1] == "approved"  # the answer that settled it, with all before it
    assert set(worker.ratings.values_list("status", flat=True)) == {"approved"}
    me = client.get(reverse("me")).json()
    assert me["balance_msat"] == 1_000 * len(statuses) and me["pending_msat"] == 0
    # Trusted now: the next answer is paid at once.
    task = client.get(reverse("task-next")).json()
    assert submit(client, task, "a")["status"] == "approved"


def test_failing_probation_rejects_the_held_ratings_and_frees_their_items(make_batch, make_worker):
    batch = make_batch("pairwise", items=plain_items(3) + gold_items(12), overlap=1)
    clicker = make_worker(on_probation=True)
    while answer(clicker, lambda a: "b") is not None:  # always wrong on gold
        clicker.refresh_from_db()
    clicker.refresh_from_db()
    assert clicker.standing == Worker.Standing.CLOSED
    assert "Failed the checks on probation" in clicker.closed_reason
    ratings = Rating.objects.filter(worker=clicker)
    assert set(ratings.values_list("status", flat=True)) == {"rejected"}
    # Every item it rated is offered again, and the money went back to the batch.
    plain = Item.objects.filter(batch=batch, gold__isnull=True)
    assert all(item.slots_left == 1 for item in plain)
    me = client_for(clicker.user).get(reverse("me")).json()
    assert me["pending_msat"] == 0 and me["balance_msat"] == 0
    assert client_for(clicker.user).get(reverse("task-next")).status_code == 204


def test_held_work_of_a_new_key_is_capped_then_only_gold_is_served(make_batch, make_worker):
    cap = trust.PROBATION_HELD_CAP
    make_batch("pairwise", items=plain_items(cap + 5), overlap=1)
    gold_batch = make_batch("pairwise", items=gold_items(1))
    worker = make_worker(on_probation=True)
    for _ in range(cap):
        assert answer(worker, lambda a: "a").item.gold is None
    # Plain items are left, but the only task it gets now is a check.
    assignment = assignment_services.next_assignment_for(worker=worker)
    assert assignment.item.batch_id == gold_batch.id
    assert answer(worker, lambda a: "a").item.gold is not None
    assert assignment_services.next_assignment_for(worker=worker) is None
    # A trusted worker takes the rest as usual.
    assert answer(make_worker(), lambda a: "a").item.gold is None


def test_ratings_held_on_a_finished_batch_are_paid_when_a_later_batch_decides(
    make_batch, make_worker
):
    # A small batch may end before a newcomer's checks decide; the evidence is counted
    # across batches, so passing on the next one pays what the first still holds.
    first = make_batch("pairwise", items=plain_items(5), overlap=1, reward_msat=1_000)
    worker = make_worker(on_probation=True)
    while answer(worker, lambda a: "a") is not None:
        worker.refresh_from_db()
    assert set(first.ratings.values_list("status", flat=True)) == {"pending_review"}
    assert first.ratings.count() == 5
    make_batch("pairwise", items=gold_items(30), reward_msat=1_000)
    while worker.standing == Worker.Standing.PROBATION:
        assert answer(worker, lambda a: "a") is not None
        worker.refresh_from_db()
    assert worker.standing == Worker.Standing.TRUSTED
    assert set(first.ratings.values_list("status", flat=True)) == {"approved"}
    me = client_for(worker.user).get(reverse("me")).json()
    assert me["pending_msat"] == 0
    assert me["balance_msat"] == 1_000 * worker.ratings.count()


def test_manual_review_holds_even_a_trusted_workers_rating(make_batch, worker):
    make_batch("pairwise", items=plain_items(1), quality={"review_mode": "manual"})
    assert answer(worker, lambda a: "a").status == "pending_review"


def test_a_new_key_behind_a_closed_workers_client_is_closed_at_its_first_request(
    make_batch, make_worker
):
    make_batch("pairwise", items=plain_items(30), overlap=3)
    phone = {"HTTP_USER_AGENT": "SpamPhone/1.0", "REMOTE_ADDR": "127.0.0.7"}
    first = client_for(make_worker(on_probation=True).user)
    for _ in range(trust.STRAIGHT_LINING_WINDOW):  # always the top card: closed
        task = first.get(reverse("task-next"), **phone).json()
        first.post(
            reverse("assignment-submit", args=[task["assignment_id"]]),
            {"ranking": [r["id"] for r in task["task"]["responses"]]},
            format="json",
            **phone,
        )
    assert Worker.objects.filter(standing=Worker.Standing.CLOSED).count() == 1
    slots = sum(Item.objects.values_list("slots_left", flat=True))
    rotated = make_worker(on_probation=True)
    second = client_for(rotated.user)
    assert second.get(reverse("task-next"), **phone).status_code == 204
    rotated.refresh_from_db()
    assert rotated.standing == Worker.Standing.CLOSED and "Same client" in rotated.closed_reason
    assert sum(Item.objects.values_list("slots_left", flat=True)) == slots  # took none
    # A key that got its task before the other was closed is closed at its answer instead.
    late = make_worker(on_probation=True)
    third = client_for(late.user)
    task = third.get(reverse("task-next")).json()
    body = third.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        {"ranking": ["a", "b"]},
        format="json",
        **phone,
    ).json()
    assert body["status"] == "rejected"
    late.refresh_from_db()
    assert late.standing == Worker.Standing.CLOSED
    # Someone else on another phone is not affected.
    other = client_for(make_worker(on_probation=True).user)
    task = other.get(reverse("task-next"), HTTP_USER_AGENT="Honest/2.0").json()
    assert submit(other, task, "a")["status"] == "pending_review"


def answer_from(phone: str, worker, best: str) -> Rating:
    assignment = assignment_services.next_assignment_for(worker=worker)
    ranking = [best] + [k for k in assignment.order if k != best]
    return rating_services.submit_rating(
        worker=worker, assignment_id=assignment.id, ranking=ranking, client=phone
    )


def test_keys_on_probation_behind_one_client_are_judged_as_one(make_batch, make_worker):
    make_batch("pairwise", items=gold_items(30))
    first, second, elsewhere = (make_worker(on_probation=True) for _ in range(3))
    for _ in range(5):  # wrong on every check, but five alone decide nothing yet
        answer_from("phone-1", first, "b")
    first.refresh_from_db()
    assert first.standing == Worker.Standing.PROBATION
    for _ in range(3):
        answer_from("phone-9", elsewhere, "b")
        last = answer_from("phone-1", second, "b")
    # The new key starts from the evidence against the first: together they fail.
    assert last.status == "rejected"
    for key in (first, second):
        key.refresh_from_db()
        assert key.standing == Worker.Standing.CLOSED
        assert set(key.ratings.values_list("status", flat=True)) == {"rejected"}
    elsewhere.refresh_from_db()
    assert elsewhere.standing == Worker.Standing.PROBATION


def test_keys_behind_one_client_pass_together_and_are_all_paid(make_batch, make_worker):
    make_batch("pairwise", items=gold_items(30), reward_msat=1_000)
    first, second = make_worker(on_probation=True), make_worker(on_probation=True)
    for _ in range(6):
        assert answer_from("phone-1", first, "a").status == "pending_review"
    for _ in range(5):
        assert answer_from("phone-1", second, "a").status == "pending_review"
    assert answer_from("phone-1", second, "a").status == "approved"
    for key in (first, second):
        key.refresh_from_db()
        assert key.standing == Worker.Standing.TRUSTED
        assert set(key.ratings.values_list("status", flat=True)) == {"approved"}
