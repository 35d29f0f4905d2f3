import logging
import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")
application = get_wsgi_application()
logger = logging.getLogger(__name__)


def warm_up() -> None:
    """Do at process start what the process's first request would otherwise wait for.

    A new web process imported every view on its first request (the URL configuration, with the
    API's schemas: 0.8 s at 100,000 deals) and compiled each template on first use, so the first
    visitor after a start or a recycle (--max-requests) waited 0.6-0.9 s more than the next one.
    gunicorn loads this module in each worker before the worker accepts a connection.
    """
    from django.template.loader import get_template
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports dealgate.urls and every view it names)
    for templates in sorted(Path(__file__).resolve().parent.glob("*/templates")):
        for path in sorted(templates.rglob("*.html")):
            try:
                get_template(path.relative_to(templates).as_posix())
            except Exception:  # such a template fails on its own page, as before; the server still starts
                logger.warning("Template %s did not compile at start-up", path, exc_info=True)


warm_up()
