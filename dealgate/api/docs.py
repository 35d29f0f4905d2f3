"""Interactive API docs served entirely by the app: Swagger UI from the copy django-ninja ships.

Ninja renders its local template only when "ninja" is in INSTALLED_APPS and falls back to a
CDN otherwise; Dealgate loads nothing from a CDN, so this page and its assets are our own.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from ninja.openapi.docs import DocsBase

ASSET_DIR = Path(ninja.__file__).parent / "static" / "ninja"
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js", "favicon.png")


class LocalSwagger(DocsBase):
    settings = {
        "layout": "BaseLayout",
        "deepLinking": True,
        "persistAuthorization": True,
        "validatorUrl": None,  # Swagger UI would otherwise send the schema to an online validator.
    }

    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        swagger_settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        return render(request, "api/swagger.html", {
            "api": api,
            "swagger_settings": json.dumps(swagger_settings),
            "asset_url": reverse("api-docs-asset", kwargs={"name": "NAME"}).removesuffix("NAME"),
        })


@cache_control(max_age=86400, public=True)
def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    if name not in ASSETS:
        raise Http404(name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse((ASSET_DIR / name).open("rb"), content_type=content_type)
