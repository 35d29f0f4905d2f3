from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "dealgate.api"
    label = "api"
