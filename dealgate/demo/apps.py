from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "dealgate.demo"
    label = "demo"
