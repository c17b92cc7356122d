import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
application = get_wsgi_application()

# Load the URLs (and with them every view and serializer), then leave everything loaded so far out
# of garbage collection: a full collection over those objects stalls a request for 20–70 ms, and
# they live as long as the process anyway.
get_resolver().url_patterns
gc.freeze()
