from django.urls import path

from dealgate.signals import views

app_name = "signals"
urlpatterns = [
    path("", views.inbox_page, name="inbox"),
    path("<int:pk>/<str:action>/", views.act, name="act"),
]
