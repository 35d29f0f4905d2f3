from django.apps import AppConfig


class SignalsConfig(AppConfig):
    """Order and quote history from the ERP, cadence per account, signals and the reorder-risk score."""

    name = "dealgate.signals"
    label = "signals"
    verbose_name = "Signals"
    default_auto_field = "django.db.models.BigAutoField"
