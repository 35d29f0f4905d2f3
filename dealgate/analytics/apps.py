from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "dealgate.analytics"
    label = "analytics"
