from django.urls import reverse


def test_worker_pages_follow_the_browser_language(client, db):
    spanish = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es")
    assert "Entra con tu monedero Lightning" in spanish.content.decode()
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Sign in with your Lightning wallet" in english.content.decode()
