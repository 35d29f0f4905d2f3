from django.urls import path, re_path

from dealgate.api.docs import docs_asset
from dealgate.api.router import api
from dealgate.api.views import api_not_found

urlpatterns = [
    path("docs/assets/<str:name>", docs_asset, name="api-docs-asset"),
    path("", api.urls),
    re_path(r"^[\s\S]*$", api_not_found),  # unknown API paths answer JSON, like every other API error
]
