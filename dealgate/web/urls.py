from django.contrib.auth import views as auth_views
from django.urls import path

from dealgate.web.login import SignInView
from dealgate.web.views import actions, admin_settings, audit, board, create, deal, lists, quota_settings, rate_settings, user_settings

app_name = "web"
urlpatterns = [
    path("", board.home, name="home"),
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("board/<slug:key>/", board.board, name="board"),
    path("board/<slug:key>/column/<int:stage_id>/", board.column, name="column"),
    path("deals/", lists.deals, name="deals"),
    path("deals/new/", create.new_deal, name="new_deal"),
    path("deals/<int:pk>/", deal.deal_page, name="deal"),
    path("deals/<int:pk>/move/", actions.move, name="move"),
    path("deals/<int:pk>/panel/<str:mode>/", actions.panel, name="panel"),
    path("deals/<int:pk>/do/<str:action>/", actions.deal_action, name="deal_action"),
    path("my-day/", lists.my_day, name="my_day"),
    path("accounts/", lists.accounts, name="accounts"),
    path("accounts/new/", create.new_account, name="new_account"),
    path("accounts/<int:pk>/", lists.account, name="account"),
    path("contacts/", lists.contacts, name="contacts"),
    path("contacts/new/", create.new_contact, name="new_contact"),
    path("settings/", admin_settings.settings_home, name="settings"),
    path("settings/audit/", audit.audit_log, name="settings_audit"),
    path("settings/users/", user_settings.users_settings, name="settings_users"),
    path("settings/users/<str:action>/", user_settings.users_action, name="settings_users_action"),
    path("settings/users/<str:action>/<int:target>/", user_settings.users_action, name="settings_users_action"),
    path("settings/quotas/", quota_settings.quotas_settings, name="settings_quotas"),
    path("settings/quotas/set/", quota_settings.quota_set, name="settings_quota_set"),
    path("settings/quotas/<int:pk>/remove/", quota_settings.quota_remove, name="settings_quota_remove"),
    path("settings/exchange-rates/", rate_settings.rates_settings, name="settings_rates"),
    path("settings/exchange-rates/set/", rate_settings.rate_set, name="settings_rate_set"),
    path("settings/exchange-rates/<int:pk>/remove/", rate_settings.rate_remove, name="settings_rate_remove"),
    path("settings/new-pipeline/", admin_settings.pipeline_new, name="settings_pipeline_new"),
    path("settings/pipelines/<slug:key>/", admin_settings.pipeline_settings, name="settings_pipeline"),
    path("settings/pipelines/<slug:key>/<str:action>/", admin_settings.pipeline_action, name="settings_action"),
    path("settings/pipelines/<slug:key>/<str:action>/<int:target>/", admin_settings.pipeline_action,
         name="settings_action"),
]
