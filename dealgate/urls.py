from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("dealgate.api.urls")),
    path("tokens/", include("dealgate.api.token_urls")),
    path("imports/", include("dealgate.imports.urls")),
    path("insights/", include("dealgate.analytics.urls")),
    path("", include("dealgate.automation.urls")),
    path("signals/", include("dealgate.signals.urls")),
    path("", include("dealgate.web.urls")),
]
