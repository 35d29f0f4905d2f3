import functools

from django.http import JsonResponse
from django.urls import path, re_path

from dealgate.api.docs import docs_asset
from dealgate.api.router import api
from dealgate.api.views import api_not_found


def _json_method_not_allowed(view):
    """Ninja answers a wrong method with a plain-text 405; give it the API's error shape."""

    @functools.wraps(view)  # keeps csrf_exempt: ninja checks CSRF itself
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            allowed = response.get("Allow", "")
            return JsonResponse({"code": "method_not_allowed", "message": f"{request.method} is not allowed here; "
                                 f"use {allowed}.", "details": {"allowed": allowed.split(", ")}},
                                status=405, headers={"Allow": allowed})
        return response

    return wrapped


api_patterns, api_app, api_namespace = api.urls
for pattern in api_patterns:
    pattern.callback = _json_method_not_allowed(pattern.callback)

urlpatterns = [
    path("docs/assets/<str:name>", docs_asset, name="api-docs-asset"),
    path("", (api_patterns, api_app, api_namespace)),
    re_path(r"^[\s\S]*$", api_not_found),  # unknown API paths answer JSON, like every other API error
]
