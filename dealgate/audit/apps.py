from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "dealgate.audit"
    label = "audit"
    verbose_name = "Audit log"
