"""WSGI entry point (gunicorn marketplace.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
application = get_wsgi_application()

# A web process on a real Lightning node refuses to start over money the fake node minted.
from payouts.lightning import get_backend  # noqa: E402  (needs the apps loaded above)

get_backend()
