"""Forms that read what a person typed; writes still go through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.http import QueryDict

from dealgate.deals.board import BoardFilters
from dealgate.inputs import MAX_QUERY_TEXT
from dealgate.people.access import role_of, team_id_of
from dealgate.people.models import Role, Team


class BoardFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=MAX_QUERY_TEXT, widget=forms.TextInput(attrs={"placeholder": "Title or account", "type": "search"}))
    owner = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False, empty_label="Any owner")
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="Any team")
    mine = forms.BooleanField(required=False, label="My deals")  # older links (?mine=on); the page sends `scope`
    scope = forms.ChoiceField(required=False, label="Show", choices=[("mine", "My deals"), ("team", "My team’s deals")])
    flagged = forms.BooleanField(required=False, label="Flagged only")
    close_from = forms.DateField(required=False, label="Closing from", widget=forms.DateInput(attrs={"type": "date"}))
    close_to = forms.DateField(required=False, label="to", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any, *, user: Any):
        super().__init__(data)
        users = get_user_model().objects.filter(is_active=True).order_by("first_name", "username")
        teams = Team.objects.all()
        if role_of(user) != Role.ADMIN:
            team = team_id_of(user)
            users = users.filter(profile__team_id=team) if team else users.filter(pk=user.pk)
            teams = teams.filter(pk=team)
        self.fields["owner"].queryset = users
        self.fields["team"].queryset = teams
        if role_of(user) == Role.ADMIN:
            self.fields["scope"].choices = [("mine", "My deals"), ("team", "Everyone’s deals")]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("close_from"), data.get("close_to")
        if start and end and end < start:
            self.add_error("close_to", "must be on or after the start date")
        return data

    def filters(self) -> BoardFilters:
        """The valid part of the filters; a bad field is ignored (and shown with its error)."""
        data = self.cleaned_data if self.is_valid() else {k: v for k, v in getattr(self, "cleaned_data", {}).items()}
        return BoardFilters(
            owner=data["owner"].pk if data.get("owner") else None,
            team=data["team"].pk if data.get("team") else None,
            mine=bool(data.get("mine")) or data.get("scope") == "mine",
            flagged=bool(data.get("flagged")),
            close_from=data.get("close_from"),
            close_to=data.get("close_to"),
            q=(data.get("q") or "").strip(),
        )


def board_filters(querystring: str | QueryDict, user: Any) -> tuple[BoardFilterForm, BoardFilters]:
    data = querystring if isinstance(querystring, QueryDict) else QueryDict(querystring.lstrip("?"))
    form = BoardFilterForm(data, user=user)
    return form, form.filters()
