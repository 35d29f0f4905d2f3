from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "dealgate.automation"
    label = "automation"

    def ready(self) -> None:
        from dealgate.automation import checks  # noqa: F401  (registers the DEALGATE_BASE_URL check)
