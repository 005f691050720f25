"""/v1 at the site root: base_url=<site>/v1 for OpenAI clients."""

from django.urls import path

from . import openai_api

urlpatterns = [
    path("v1/models", openai_api.list_models, name="v1-models"),
    path("v1/chat/completions", openai_api.chat_completions, name="v1-chat-completions"),
    path("v1/rewards", openai_api.rewards, name="v1-rewards"),
    path("v1/credit", openai_api.credit, name="v1-credit"),
]
