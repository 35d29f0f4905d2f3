from django.contrib import admin
from django.urls import include, path

from dealgate.web.login import LimitedAdminAuthenticationForm
from dealgate.web.views.health import healthz

admin.site.login_form = LimitedAdminAuthenticationForm  # the admin's sign-in counts failures like the app's

handler500 = "dealgate.web.views.errors.server_error"  # 503 when the database does not answer

urlpatterns = [
    path("healthz", healthz, name="healthz"),  # no login: for load balancers and monitoring
    path("admin/", admin.site.urls),
    path("api/", include("dealgate.api.urls")),
    path("tokens/", include("dealgate.api.token_urls")),
    path("imports/", include("dealgate.imports.urls")),
    path("insights/", include("dealgate.analytics.urls")),
    path("", include("dealgate.automation.urls")),
    path("signals/", include("dealgate.signals.urls")),
    path("", include("dealgate.web.urls")),
]
