from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "dealgate.automation"
    label = "automation"
