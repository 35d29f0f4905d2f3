from django.urls import path

from dealgate.api.router import api

urlpatterns = [path("", api.urls)]
