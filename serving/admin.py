"""The owner's view of served models: publish a succeeded run (the add form), unpublish or
publish again (actions), per model calls, tokens and revenue per day with a chart, and
"Generate a batch" (a policy answers prompts; the pairs become the next batch).
A requester sees only its own models; writes go through the services."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.hostile import loads
from labeling.charts import bar_chart
from labeling.services.batches import MAX_OVERLAP, MAX_REWARD_MSAT
from rewardmodel import selectors as run_selectors
from rewardmodel.models import TrainingRun

from . import selectors
from .models import ServedModel
from .services import closed_loop, engines, publishing


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


class GenerateBatchForm(forms.Form):
    prompts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10}),
        required=False,
        help_text=_("One prompt per line; the policy answers each twice."),
    )
    file = forms.FileField(
        required=False,
        help_text=_(
            'Or JSONL: one prompt per line, as a JSON string or {"prompt", "reference"} '
            "(the policy's answer against the reference)."
        ),
    )
    name = forms.CharField(max_length=200, required=False)
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        initial=closed_loop.DEFAULT_INSTRUCTIONS,
        help_text=_("Markdown, shown to workers."),
    )
    reward_msat = forms.IntegerField(
        min_value=0,
        max_value=MAX_REWARD_MSAT,
        help_text=_("Paid per accepted rating, in millisatoshis."),
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=MAX_OVERLAP,
        initial=3,
        help_text=_("How many different workers rate each item."),
    )
    max_tokens = forms.IntegerField(
        min_value=1, required=False, help_text=_("Most tokens per answer.")
    )
    temperature = forms.FloatField(min_value=0, max_value=2, initial=1.0)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            self.raw_prompts = []
            for number, line in enumerate(upload.read().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    self.raw_prompts.append(loads(line))
                except ValueError as exc:
                    raise forms.ValidationError(
                        _("Line %(number)d is not JSON.") % {"number": number}
                    ) from exc
        else:
            text = data.get("prompts") or ""
            self.raw_prompts = [line.strip() for line in text.splitlines() if line.strip()]
        return data


@admin.register(ServedModel)
class ServedModelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "prices", "published", "engine_ready", "created_at")
    list_filter = ("kind", "published")
    actions = ["generate_batch", "unpublish", "publish_again"]
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
        "generate_link",
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
            empty=_("No calls yet."),
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

    def get_urls(self) -> list:
        return [
            path(
                "<int:served_model_id>/generate-batch/",
                self.admin_site.admin_view(self.generate_batch_view),
                name="serving_servedmodel_generate_batch",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("Next batch"))
    def generate_link(self, model: ServedModel) -> str:
        if model.kind != ServedModel.Kind.POLICY:
            return "—"
        url = reverse("admin:serving_servedmodel_generate_batch", args=[model.id])
        return format_html('<a href="{}">{}</a>', url, _("Generate a batch"))

    def generate_batch_view(self, request: HttpRequest, served_model_id: int) -> HttpResponse:
        # Only a requester owns models and has a balance; a superuser sees every model
        # but generates only with its own.
        model = self.get_queryset(request).filter(id=served_model_id).first()
        requester = getattr(request.user, "requester", None)
        if model is None or requester is None:
            return HttpResponseRedirect(reverse("admin:serving_servedmodel_changelist"))
        form = GenerateBatchForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                batch = closed_loop.generate_batch(
                    requester=requester,
                    served_model_id=model.id,
                    prompts=closed_loop.parse_prompts(form.raw_prompts),
                    name=data["name"],
                    instructions=data["instructions"],
                    reward_msat=data["reward_msat"],
                    overlap=data["overlap"],
                    max_tokens=data["max_tokens"],
                    temperature=data["temperature"],
                )
            except DomainError as error:
                form.add_error(None, error.message())
            else:
                self.message_user(
                    request,
                    _("Batch “%(name)s” created with %(n)d items from %(model)s.")
                    % {"name": batch.name, "n": batch.items_count, "model": model.name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:labeling_batch_change", args=[batch.id]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Generate a batch with %(model)s") % {"model": model.name},
            "form": form,
            "model": model,
            "most": closed_loop.MAX_PROMPTS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/serving/servedmodel/generate_batch.html", context)

    @admin.action(description=_("Generate a batch with the selected policy"))
    def generate_batch(self, request: HttpRequest, queryset: QuerySet) -> Any:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one policy."), messages.WARNING)
            return None
        model = queryset.get()
        url = reverse("admin:serving_servedmodel_generate_batch", args=[model.id])
        return HttpResponseRedirect(url)

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
