"""In-app pages for personal API tokens (list, create - the secret is shown once - and revoke)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from dealgate.api import services
from dealgate.api.models import ApiToken
from dealgate.errors import DealgateError, NotFound


@csrf_exempt
def api_not_found(request: HttpRequest) -> JsonResponse:
    """A path under /api/ that matches no endpoint."""
    return JsonResponse({"code": "not_found", "message": f"No API endpoint at {request.path}.", "details": {}},
                        status=404)


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """GET lists the caller's tokens; POST creates one and shows its secret on this response only."""
    context = {"error": None, "created": None, "secret": None, "name": ""}
    if request.method == "POST":
        try:
            context["created"], context["secret"] = services.create_token(user=request.user,
                                                                          name=request.POST.get("name", ""))
        except DealgateError as exc:
            context["error"], context["name"] = exc, request.POST.get("name", "")
    context["tokens"] = ApiToken.objects.filter(user=request.user)
    response = render(request, "api/tokens.html", context, status=422 if context["error"] else 200)
    response["Cache-Control"] = "no-store"  # the secret must not linger in a cache
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.revoke_token(token_id, by=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from None
    messages.success(request, f"Token “{token.name}” revoked: calls using it now answer 401.")
    return redirect("tokens:list")
