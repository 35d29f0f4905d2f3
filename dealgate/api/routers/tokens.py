"""Personal API tokens from a script: the same services as the /tokens/ pages.

Minting a token also accepts the user's password (HTTP Basic), so a script can start from
nothing; every other endpoint takes a token or the browser session only.
"""

from __future__ import annotations

from ninja import Router

from dealgate.api.auth import BearerToken, BrowserSession, PasswordBasic
from dealgate.api.models import ApiToken
from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.schemas import TokenCreatedOut, TokenIn, TokenOut
from dealgate.api.services import create_token, revoke_token

router = Router(tags=["tokens"])


@router.get("", response={200: list[TokenOut], **ERRORS}, summary="The caller's API tokens (never their secrets)")
def list_tokens(request):
    return ApiToken.objects.filter(user=request.auth)


@router.post("", response={201: TokenCreatedOut, **WRITE_ERRORS}, auth=[BearerToken(), BrowserSession(), PasswordBasic()],
             summary="Create a token; its secret is in this answer only")
def make_token(request, payload: TokenIn):
    token, secret = create_token(user=request.auth, name=payload.name)
    return 201, {**TokenOut.from_orm(token).dict(), "token": secret}


@router.delete("/{int:token_id}", response={204: None, **WRITE_ERRORS}, summary="Revoke one of the caller's tokens")
def revoke(request, token_id: int):
    revoke_token(token_id, by=request.auth)
    return 204, None
