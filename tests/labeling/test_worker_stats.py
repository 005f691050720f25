"""A worker's own stats page (checked answers, approvals, trust, streak, earnings by day, rank)
and the opt-in, pseudonymous public leaderboard."""

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from labeling.models import PublicProfile, Rating, Worker
from labeling.selectors import streaks
from labeling.services.assignments import next_assignment_for
from labeling.services.ratings import submit_rating
from labeling.services.review import review_ratings
from tests.conftest import PAIRWISE_ITEMS

GOLD_ITEMS = [item | {"gold": ["a", "b"]} for item in PAIRWISE_ITEMS[:2]] + PAIRWISE_ITEMS[2:]


def rate_all(worker: Worker, choose: Any = lambda n: "a") -> list[Rating]:
    """Answers every task the worker is offered: `choose(n)` picks the winner of the n-th."""
    ratings = []
    while (assignment := next_assignment_for(worker=worker)) is not None:
        best = choose(len(ratings))
        other = "b" if best == "a" else "a"
        ratings.append(
            submit_rating(worker=worker, assignment_id=assignment.id, ranking=[best, other])
        )
    return ratings


def signed_in(worker: Worker) -> Client:
    client = Client()
    client.force_login(worker.user)
    return client


def page_text(client: Client, name: str) -> str:
    response = client.get(reverse(name))
    assert response.status_code == 200
    return response.content.decode()


def test_stats_show_checked_answers_approvals_trust_and_rank(
    make_batch: Any, make_worker: Any, requester: Any
) -> None:
    make_batch("pairwise", items=GOLD_ITEMS, overlap=2, quality={"review_mode": "manual"})
    worker, other = make_worker(), make_worker()
    # Gold items come first: this worker gets one of the two checked answers right.
    mine = rate_all(worker, choose=lambda n: "a" if n != 1 else "b")
    review_ratings(requester=requester, rating_ids=[r.id for r in mine[:4]], approve=True)
    review_ratings(requester=requester, rating_ids=[mine[4].id], approve=False, reason="Spam")
    theirs = rate_all(other)
    review_ratings(requester=requester, rating_ids=[r.id for r in theirs], approve=True)

    page = page_text(signed_in(worker), "stats")
    assert "50 %" in page and "1 of 2" in page  # checked answers right
    assert "80 %" in page and "4 approved, 1 rejected" in page
    worker.refresh_from_db()
    assert f"{worker.trust:.2f}" in page
    assert "1 day" in page  # rated today: a streak of one day
    assert "20 sats" in page  # 4 approved, 5 sats each
    # The other worker earned 25 sats: this one stands second of two.
    assert "You are number 2 of 2 labelers by earnings." in page
    # Today's bar in the chart names its day and amount.
    assert f"<title>{date.today().isoformat()}: 20 sats</title>" in page


def test_stats_of_a_new_worker_show_dashes_and_no_rank(worker: Worker) -> None:
    page = page_text(signed_in(worker), "stats")
    assert "\u2013" in page  # an en dash where nothing is measured yet
    assert "You are number" not in page
    assert "0 days" in page


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([], (0, 0)),
        ([date(2026, 12, 2)], (1, 1)),
        ([date(2026, 12, 1), date(2026, 11, 30)], (2, 2)),  # yesterday still counts
        ([date(2026, 11, 30)], (0, 1)),  # a day missed: the streak is over
        (
            [date(2026, 12, 2), date(2026, 11, 28), date(2026, 11, 27), date(2026, 11, 26)],
            (1, 3),
        ),
    ],
)
def test_streaks_count_consecutive_days(days: list[date], expected: tuple[int, int]) -> None:
    assert streaks(days, today=date(2026, 12, 2)) == expected


def test_the_leaderboard_is_opt_in_and_pseudonymous(make_batch: Any, make_worker: Any) -> None:
    make_batch("pairwise", overlap=2)
    quiet, proud = make_worker(), make_worker()
    rate_all(quiet)
    rate_all(proud)
    board = Client()
    assert "Nobody is listed yet." in page_text(board, "leaderboard")  # off by default

    client = signed_in(proud)
    response = client.post(reverse("leaderboard-listing"), {"listed": "1"})
    assert response.status_code == 302
    profile = PublicProfile.objects.get(worker=proud)
    assert profile.listed
    page = page_text(board, "leaderboard")
    assert profile.pseudonym in page and "25 sats" in page
    # Nothing on the board comes from the wallet key or the worker's id.
    for secret in (proud.linking_key[:8], quiet.linking_key[:8], f"worker {proud.id}"):
        assert secret not in page
    assert page.count("<tr") == 2  # the header and the one listed worker
    assert f"You are listed as <strong>{profile.pseudonym}</strong>" in page_text(client, "stats")

    # Leaving hides them; coming back keeps the same name.
    client.post(reverse("leaderboard-listing"), {"listed": "0"})
    assert profile.pseudonym not in page_text(board, "leaderboard")
    client.post(reverse("leaderboard-listing"), {"listed": "1"})
    assert PublicProfile.objects.get(worker=proud).pseudonym == profile.pseudonym
    assert PublicProfile.objects.count() == 1


def test_pseudonyms_differ_between_workers(make_worker: Any) -> None:
    names = set()
    for _ in range(5):
        client = signed_in(make_worker())
        client.post(reverse("leaderboard-listing"), {"listed": "1"})
    names = set(PublicProfile.objects.values_list("pseudonym", flat=True))
    assert len(names) == 5


def test_a_bad_listing_choice_changes_nothing(worker: Worker) -> None:
    client = signed_in(worker)
    response = client.post(reverse("leaderboard-listing"), {"listed": "yes"}, follow=True)
    assert response.status_code == 200
    assert "Choose to show or hide your name." in response.content.decode()
    assert not PublicProfile.objects.exists()
    assert Client().post(reverse("leaderboard-listing"), {"listed": "1"}).status_code == 302


def test_stats_and_leaderboard_queries_do_not_grow_with_ratings(
    make_batch: Any, make_worker: Any, django_assert_num_queries: Any
) -> None:
    make_batch("pairwise", overlap=3)
    workers = [make_worker() for _ in range(3)]
    for worker in workers:
        rate_all(worker)
        signed_in(worker).post(reverse("leaderboard-listing"), {"listed": "1"})
    client = signed_in(workers[0])
    # session, user, worker, totals, days, two for the rank, profile, balance
    with django_assert_num_queries(9):
        client.get(reverse("stats"))
    with django_assert_num_queries(5):  # session, user, worker, the board, balance
        client.get(reverse("leaderboard"))
