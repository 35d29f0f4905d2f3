from django.urls import path

from dealgate.automation import views

app_name = "automation"
urlpatterns = [
    path("deals/<int:pk>/tasks/", views.task_add, name="task_add"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/open/", views.notification_open, name="notification_open"),
    path("inbox/read-all/", views.inbox_read_all, name="inbox_read_all"),
    path("inbox/email/", views.notification_email, name="notification_email"),
    path("settings/rules/", views.rules, name="rules"),
    path("settings/rules/new/", views.rule_new, name="rule_new"),
    path("settings/rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("settings/rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("settings/rules/<int:pk>/enabled/", views.rule_enabled, name="rule_enabled"),
    path("settings/rules/<int:pk>/test/", views.rule_test, name="rule_test"),
    path("settings/webhooks/<int:pk>/send/", views.webhook_send_again, name="webhook_send_again"),
]
