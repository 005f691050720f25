from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("work/", views.work_page, name="work"),
    path("stats/", views.stats_page, name="stats"),
    path("stats/leaderboard/", views.leaderboard_listing, name="leaderboard-listing"),
    path("leaderboard/", views.leaderboard_page, name="leaderboard"),
]
