"""The owner's view of served models: publish a succeeded run (the add form), unpublish or
publish again (actions), and per model calls, tokens and revenue per day with a chart.
A requester sees only its own models; writes go through the publishing service."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from labeling.charts import bar_chart
from rewardmodel import selectors as run_selectors
from rewardmodel.models import TrainingRun

from . import selectors
from .models import ServedModel
from .services import engines, publishing


class PublishForm(forms.ModelForm):
    class Meta:
        model = ServedModel
        fields = [
            "run",
            "name",
            "price_msat_per_1k_input",
            "price_msat_per_1k_output",
            "price_msat_per_response",
            "max_tokens",
        ]

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        runs = run_selectors.visible_runs(user=user).filter(status=TrainingRun.Status.SUCCEEDED)
        self.fields["run"].queryset = runs
        self.fields["max_tokens"].required = False
        for name in (
            publishing.PRICES[ServedModel.Kind.POLICY] + publishing.PRICES[ServedModel.Kind.REWARD]
        ):
            self.fields[name].required = False
            self.fields[name].help_text = _(
                "Policies: per 1,000 tokens; reward models: per response."
            )
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        run = data.get("run")
        if run is None:
            return data
        kind = publishing.KINDS[run.kind]
        prices = {name: data.get(name) or 0 for name in publishing.PRICES[kind]}
        try:
            self.published = publishing.publish_model(
                user=self.user,
                run_id=run.id,
                name=data.get("name", ""),
                prices=prices,
                max_tokens=data.get("max_tokens"),
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message()) from exc
        return data

    def validate_unique(self) -> None:
        pass  # the service decides (a taken name is its error)


@admin.register(ServedModel)
class ServedModelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "prices", "published", "engine_ready", "created_at")
    list_filter = ("kind", "published")
    actions = ["unpublish", "publish_again"]
    # The operator points a model at an upstream it runs (vLLM): superusers only.
    ENGINE_FIELDS = ("engine_managed", "engine_url", "upstream_model")
    readonly_fields = (
        "name",
        "kind",
        "run",
        "owner",
        "prices",
        "max_tokens",
        "published",
        "engine_managed",
        "engine_url",
        "upstream_model",
        "created_at",
        "usage",
    )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:
            return super().get_form(request, obj, change, **kwargs)

        class Form(PublishForm):
            def __init__(self, *args: Any, **inner: Any) -> None:
                super().__init__(*args, user=request.user, **inner)

        return Form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else PublishForm.Meta.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        if request.user.is_superuser:
            return [f for f in self.readonly_fields if f not in self.ENGINE_FIELDS]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ServedModel, form: Any, change: bool) -> None:
        if not change:  # the form's clean() published it through the service
            obj.pk = form.published.pk
        elif request.user.is_superuser:
            engines.point_at_engine(
                served_model_id=obj.id,
                managed=obj.engine_managed,
                url=obj.engine_url,
                upstream_model=obj.upstream_model,
            )

    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or hasattr(user, "requester"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)  # actions only: every field is read-only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # calls and tokens refer to it: unpublish instead

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return publishing.owned_models(user=request.user).select_related("owner__user", "run")

    @admin.display(description=_("Prices (msat)"))
    def prices(self, model: ServedModel) -> str:
        if model.kind == ServedModel.Kind.REWARD:
            return f"{model.price_msat_per_response} per response"
        prices = (model.price_msat_per_1k_input, model.price_msat_per_1k_output)
        return "{} in / {} out per 1k tokens".format(*prices)

    @admin.display(boolean=True, description=_("Engine running"))
    def engine_ready(self, model: ServedModel) -> bool:
        return bool(model.engine_url)

    @admin.display(description=_("Usage per day (last 30 days)"))
    def usage(self, model: ServedModel) -> str:
        days = selectors.usage_per_day(served_model=model)
        if not days:
            return format_html("<p>{}</p>", _("No calls yet."))
        chart = bar_chart(
            [(day["day"].strftime("%m-%d"), day["revenue_msat"] // 1000) for day in days],
            width=max(360, 24 * len(days)),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    d["day"].isoformat(),
                    d["calls"],
                    d["prompt_tokens"],
                    d["completion_tokens"],
                    d["revenue_msat"],
                )
                for d in days
            ),
        )
        return format_html(
            "<p>{}</p>{}<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            _("Revenue in sats (after the platform fee):"),
            chart,
            _("Day"),
            _("Calls"),
            _("Input tokens"),
            _("Output tokens"),
            _("Revenue (msat)"),
            rows,
        )

    @admin.action(description=_("Unpublish selected models"))
    def unpublish(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for model in queryset.filter(published=True):
            publishing.unpublish_model(user=request.user, served_model_id=model.id)
            done += 1
        self.message_user(
            request, _("%(count)d model(s) unpublished.") % {"count": done}, messages.SUCCESS
        )

    @admin.action(description=_("Publish selected models again"))
    def publish_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for model in queryset.filter(published=False):
            publishing.republish_model(user=request.user, served_model_id=model.id)
            done += 1
        self.message_user(
            request, _("%(count)d model(s) published.") % {"count": done}, messages.SUCCESS
        )
